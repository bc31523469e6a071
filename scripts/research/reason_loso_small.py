#!/usr/bin/env python3
"""Can a small classifier on the real labelled junk name the kind of a real set it has not seen? (#23, 9b)

    OMP_NUM_THREADS=1 nice -n 15 python scripts/research/reason_loso_small.py \
        --cache corpus_cache/reason_real_inputs.npz --sim_classes 5000 --out corpus_cache/reason_loso_small_sim.json

Leave one real set out at a time (docs/model_card_notes.md, section 9b): each of the labelled real sets
(``benchmarks/real_sets/junk_kinds_by_eye.csv``, as :func:`~relion_cryodiscovery.evaluation.reasons.labelled_real_inputs`
gives them: the product's oriented inputs) is named by a classifier fitted on the *other* sets' labelled
classes only. Every hyper-parameter (L2 strength, class weighting, tree depth/iterations) is picked inside
the training sets by an inner leave-one-set-out over them (nested), never on the held-out set. The held-out
predictions of all sets are pooled and compared with two baselines: always the most common kind of all the
labelled classes (``noise``, the baseline of issue #23's figures; it has seen the held-out set's labels) and, honest, always
the most common kind of the other sets.

Inputs per class (cached in ``--cache``): the product's feature row (``features``, 30 values + 30 missing
flags, :data:`~relion_cryodiscovery.data.features.FEATURE_NAMES`), the shipped reason network's penultimate
layer (``dense``, 64 units, mean over the class's views), d1's penultimate layer likewise, and the shipped
reason network's probabilities. Recipes (fixed before any held-out figure was seen, except
``lr_reason_embedding_sim``, added after, as 9a had tried it on five sets):

* ``lr_features``: multinomial logistic regression on the standardised features;
* ``lr_reason_embedding``: the same on the reason network's penultimate layer;
* ``lr_d1_embedding``: the same on d1's penultimate layer;
* ``lr_features_embedding``: on the features and the reason network's layer;
* ``lr_shipped_logprob``: on the shipped network's log-probabilities (a learned recalibration);
* ``lr_features_logprob``: on the features and those log-probabilities;
* ``gbt_features``: gradient-boosted trees (sklearn ``HistGradientBoostingClassifier``) on the feature values;
* ``gbt_features_logprob``: the same with the log-probabilities;
* ``lr_reason_embedding_sim`` (``--sim_classes N``): logistic regression on the reason network's penultimate
  layer of N simulated training junk classes of the lab corpus (weighted by inverse kind frequency^0.5, mean
  1, as ``scripts/train_reason_model.py`` weighs them) plus the other sets' real classes, each weighing
  ``w``; ``w`` and the L2 strength picked nested;
* ``nested_recipe``: the recipe itself picked per fold by the inner leave-one-set-out (what "try a few and
  keep the best" gives when measured honestly).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from cryodiscovery_dev import corpus_paths

REPO = Path(__file__).resolve().parents[2]


def build_cache(path: Path, model_dir: Path, shared: Path, extra: Path, labels: Path) -> None:
    """Labelled real classes -> features, embeddings and shipped probabilities, saved to ``path``."""
    import keras

    from relion_cryodiscovery.evaluation.real_sets import load_real_sets
    from relion_cryodiscovery.evaluation.reasons import junk_kinds_by_eye, labelled_real_inputs
    from relion_cryodiscovery.model.vote import check_inputs, class_means

    labelled = labelled_real_inputs(load_real_sets(shared, extra), junk_kinds_by_eye(labels))

    def penultimate(name: str):
        net = keras.saving.load_model(model_dir / f"{name}.keras", compile=False, safe_mode=True)
        sub = keras.Model(net.inputs, net.get_layer("dense").output)
        width = int(sub.output.shape[-1])

        def forward(views, features):
            return np.asarray(sub({"image": views[..., None], "features": features}, training=False))

        return forward, width, net

    out: dict[str, list] = {k: [] for k in ("set", "class_number", "truth", "features", "emb_reasons", "emb_d1",
                                            "p_shipped")}
    nets = {name: penultimate(name) for name in ("reasons", "d1")}
    full = nets["reasons"][2]

    def probabilities(views, features):
        return np.asarray(full({"image": views[..., None], "features": features}, training=False))

    for s in labelled:
        images, features = check_inputs(s.images, s.features)
        out["set"] += [s.name] * len(s.truth)
        out["class_number"] += list(s.class_numbers)
        out["truth"].append(s.truth)
        out["features"].append(s.features[:, 0] if s.features.ndim == 3 else s.features)
        for name in ("reasons", "d1"):
            forward, width, _ = nets[name]
            out[f"emb_{name}"].append(class_means(forward, width, images, features, 256))
        out["p_shipped"].append(class_means(probabilities, full.output.shape[-1], images, features, 256))
        print(f"cached {s.name}: {len(s.truth)} classes", flush=True)
    np.savez(path, **{k: (np.array(v) if k in ("set", "class_number") else np.concatenate(v)) for k, v in out.items()})


def simulated_embeddings(lab: Path, model_dir: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reason network's penultimate layer, kind and weight of ``n`` simulated training junk classes (the
    card's validation jobs left out), drawn with ``seed``."""
    import keras

    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.vote import class_means
    from relion_cryodiscovery.training.reasons import junk_only
    from relion_cryodiscovery.training.trainer import TrainingArrays
    from cryodiscovery_dev.lab_corpus import corpus_reasons

    card = ModelCard.load(model_dir)
    data = np.load(lab / "train.npz")
    reasons, jobs = corpus_reasons(lab, 0)
    if not (jobs == data["groups"]).all():
        raise SystemExit("classes.csv and train.npz are not in the same order")
    rows = np.flatnonzero(~np.isin(data["groups"], card.training_data["val_jobs"]) & (reasons >= 0))
    rows = np.sort(np.random.default_rng(seed).choice(rows, min(n, len(rows)), replace=False))
    arrays = TrainingArrays(data["images"][rows].astype(np.float32), data["features"][rows], data["labels"][rows],
                            data["groups"][rows])
    junk = junk_only(arrays, reasons[rows])
    net = keras.saving.load_model(model_dir / "reasons.keras", compile=False, safe_mode=True)
    sub = keras.Model(net.inputs, net.get_layer("dense").output)

    def forward(views, features):
        return np.asarray(sub({"image": views[..., None], "features": features}, training=False))

    emb = class_means(forward, int(sub.output.shape[-1]), junk.images, junk.features, 256)
    return emb, junk.labels.astype(int), junk.weights


def recipes():
    """name -> (input columns, list of (label, estimator factory))."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def lr(c, balanced):
        return (f"C={c},{'balanced' if balanced else 'unweighted'}",
                lambda: make_pipeline(StandardScaler(), LogisticRegression(
                    C=c, max_iter=3000, class_weight="balanced" if balanced else None)))

    def gbt(depth, iters, balanced):
        return (f"depth={depth},iter={iters},{'balanced' if balanced else 'unweighted'}",
                lambda: HistGradientBoostingClassifier(max_depth=depth, max_iter=iters, learning_rate=0.1,
                                                       l2_regularization=1.0, min_samples_leaf=10,
                                                       class_weight="balanced" if balanced else None,
                                                       random_state=0))

    lr_grid = [lr(c, b) for c in (0.003, 0.03, 0.3, 3.0) for b in (False, True)]
    gbt_grid = [gbt(d, i, b) for d in (2, 3) for i in (30, 100) for b in (False, True)]
    return {
        "lr_features": (("features",), lr_grid),
        "lr_reason_embedding": (("emb_reasons",), lr_grid),
        "lr_d1_embedding": (("emb_d1",), lr_grid),
        "lr_features_embedding": (("features", "emb_reasons"), lr_grid),
        "lr_shipped_logprob": (("logp",), lr_grid),
        "lr_features_logprob": (("features", "logp"), lr_grid),
        "gbt_features": (("values",), gbt_grid),
        "gbt_features_logprob": (("values", "logp"), gbt_grid),
    }


#: What a real class weighs beside a simulated junk class (mean weight 1) in ``lr_reason_embedding_sim``.
SIM_REAL_WEIGHTS = (5.0, 20.0, 100.0)


def fit_predict(make, x_train, y_train, x_test, n_kinds: int, weights=None) -> np.ndarray:
    """Probabilities over all kinds (a kind absent from the training sets gets 0)."""
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if weights is None:
            model.fit(x_train, y_train)
        else:
            model.fit(x_train, y_train, logisticregression__sample_weight=weights)
        p = model.predict_proba(x_test)
    out = np.zeros((len(x_test), n_kinds))
    out[:, model.classes_.astype(int)] = p
    return out


def loso(x, y, sets, names, make, n_kinds):
    """Held-out probabilities of each set in ``names`` from ``make`` fitted on the others in ``names``."""
    out = np.zeros((len(y), n_kinds))
    for name in names:
        test = sets == name
        train = np.isin(sets, names) & ~test
        out[test] = fit_predict(make, x[train], y[train], x[test], n_kinds)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus_paths.add_model_and_data_args(parser)
    parser.add_argument("--labels", type=Path, default=REPO / "benchmarks" / "real_sets" / "junk_kinds_by_eye.csv")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--recipes", nargs="*", default=None)
    parser.add_argument("--sim_classes", type=int, default=0,
                        help="also lr_reason_embedding_sim with this many simulated junk classes (0: not run)")
    args = parser.parse_args()

    from relion_cryodiscovery.data.features import N_FEATURES
    from relion_cryodiscovery.evaluation.reasons import reason_metrics
    from relion_cryodiscovery.model.reasons import REASONS

    if not args.cache.exists():
        build_cache(args.cache, args.model, args.shared, args.extra, args.labels)
    data = np.load(args.cache)
    sets, y = data["set"], data["truth"].astype(int)
    names = list(dict.fromkeys(sets.tolist()))
    k = len(REASONS)
    columns = {"features": data["features"], "values": data["features"][:, :N_FEATURES],
               "emb_reasons": data["emb_reasons"], "emb_d1": data["emb_d1"],
               "logp": np.log(np.clip(data["p_shipped"], 1e-6, 1.0))}
    table = recipes()
    chosen = args.recipes or list(table)
    started = time.perf_counter()

    sim, sim_grid = None, []
    if args.sim_classes:
        sim = simulated_embeddings(args.lab, args.model, args.sim_classes, 20261223)
        sim_grid = [g for g in table["lr_reason_embedding"][1] if "unweighted" in g[0] and not g[0].startswith("C=0.003")]
        print(f"simulated junk: {len(sim[1])} classes, per kind {np.bincount(sim[1], minlength=k).tolist()}", flush=True)
    extra_recipes = ["lr_reason_embedding_sim"] if sim is not None else []
    held = {r: np.zeros((len(y), k)) for r in [*chosen, *extra_recipes, "nested_recipe"]}
    picks: dict[str, dict[str, str]] = {r: {} for r in held}
    for name in names:
        test = sets == name
        inner_names = [n for n in names if n != name]
        inner_mask = ~test
        best_overall = (-1.0, None, None)
        for recipe in chosen:
            cols, grid = table[recipe]
            x = np.concatenate([columns[c] for c in cols], axis=1)
            scored = []
            for label, make in grid:
                p = loso(x, y, sets, inner_names, make, k)
                scored.append((float((p[inner_mask].argmax(1) == y[inner_mask]).mean()), label, make))
            acc, label, make = max(scored, key=lambda t: t[0])  # first best on ties (grid order)
            held[recipe][test] = fit_predict(make, x[inner_mask], y[inner_mask], x[test], k)
            picks[recipe][name] = f"{label} (inner {acc:.3f})"
            if acc > best_overall[0]:
                best_overall = (acc, recipe, held[recipe][test])
        if sim is not None:
            sim_x, sim_y, sim_w = sim
            scored = []
            for w in SIM_REAL_WEIGHTS:
                for label, make in sim_grid:
                    p = np.zeros((len(y), k))
                    for inner in inner_names:
                        t = sets == inner
                        tr = inner_mask & ~t
                        p[t] = fit_predict(make, np.concatenate([sim_x, columns["emb_reasons"][tr]]),
                                           np.concatenate([sim_y, y[tr]]), columns["emb_reasons"][t], k,
                                           np.concatenate([sim_w, np.full(tr.sum(), w)]))
                    scored.append((float((p[inner_mask].argmax(1) == y[inner_mask]).mean()), f"w={w},{label}", w, make))
            acc, label, w, make = max(scored, key=lambda t: t[0])
            held["lr_reason_embedding_sim"][test] = fit_predict(
                make, np.concatenate([sim_x, columns["emb_reasons"][inner_mask]]),
                np.concatenate([sim_y, y[inner_mask]]), columns["emb_reasons"][test], k,
                np.concatenate([sim_w, np.full(inner_mask.sum(), w)]))
            picks["lr_reason_embedding_sim"][name] = f"{label} (inner {acc:.3f})"
            if acc > best_overall[0]:
                best_overall = (acc, "lr_reason_embedding_sim", held["lr_reason_embedding_sim"][test])
        held["nested_recipe"][test] = best_overall[2]
        picks["nested_recipe"][name] = f"{best_overall[1]} (inner {best_overall[0]:.3f})"
        print(f"{name:36s} n={test.sum():3d} " + " ".join(
            f"{r}={float((held[r][test].argmax(1) == y[test]).mean()):.2f}" for r in held), flush=True)

    counts = np.bincount(y, minlength=k)
    results = {"classes": int(len(y)), "sets": {n: int((sets == n).sum()) for n in names},
               "support": dict(zip(REASONS, counts.tolist())),
               "baselines": {}, "recipes": {}, "seconds": None}
    common = int(counts.argmax())
    honest = np.zeros(len(y), int)
    for name in names:
        honest[sets == name] = int(np.bincount(y[sets != name], minlength=k).argmax())
    for label, pred in ((f"always {REASONS[common]}", np.full(len(y), common)),
                        ("most common of the other sets", honest),
                        ("shipped reason network", data["p_shipped"].argmax(1))):
        results["baselines"][label] = {"pooled": reason_metrics(y, pred),
                                       "per_set": {n: float((pred[sets == n] == y[sets == n]).mean()) for n in names}}
    base = np.full(len(y), common)
    for recipe, p in held.items():
        pred = p.argmax(1)
        per_set = {n: float((pred[sets == n] == y[sets == n]).mean()) for n in names}
        beats = sum(per_set[n] > float((base[sets == n] == y[sets == n]).mean()) for n in names)
        loses = sum(per_set[n] < float((base[sets == n] == y[sets == n]).mean()) for n in names)
        results["recipes"][recipe] = {"pooled": reason_metrics(y, pred), "per_set": per_set,
                                      "sets_above_always_common": int(beats), "sets_below_always_common": int(loses),
                                      "picked": picks[recipe]}
    # How sure is a pooled gain? Resample whole sets (the unit that carries a kind away, section 9a) 4000
    # times and count how often the recipe's pooled agreement is above always the most common kind.
    rng = np.random.default_rng(20261207)
    draws = [rng.choice(len(names), len(names)) for _ in range(4000)]
    index = {n: np.flatnonzero(sets == n) for n in names}
    for recipe, p in held.items():
        right = p.argmax(1) == y
        diffs = []
        for draw in draws:
            rows = np.concatenate([index[names[i]] for i in draw])
            diffs.append(right[rows].mean() - (y[rows] == common).mean())
        diffs = np.array(diffs)
        results["recipes"][recipe]["gain_over_always_common"] = {
            "pooled": float(right.mean() - (y == common).mean()),
            "set_bootstrap_95": [float(np.quantile(diffs, 0.025)), float(np.quantile(diffs, 0.975))],
            "set_bootstrap_fraction_above_0": float((diffs > 0).mean())}
        results["recipes"][recipe]["held_out_probabilities"] = np.round(p, 4).tolist()
    results["truth"], results["set_of_class"] = y.tolist(), sets.tolist()
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(results, indent=1) + "\n")

    print("\npooled agreement (held out):")
    for label, r in [*results["baselines"].items(), *results["recipes"].items()]:
        per = r["pooled"]["per_reason"]
        gain = r.get("gain_over_always_common")
        ci = (f" gain {gain['pooled']:+.3f} [{gain['set_bootstrap_95'][0]:+.3f}, {gain['set_bootstrap_95'][1]:+.3f}]"
              f" sets above/below {r['sets_above_always_common']}/{r['sets_below_always_common']}") if gain else ""
        print(f"  {label:32s} {r['pooled']['accuracy']:.3f}{ci}  " + "  ".join(
            f"{kind[:8]} {m['recall']:.2f}/{m['precision']:.2f}" for kind, m in per.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
