#!/usr/bin/env python3
"""Train the reason model on the lab-like corpus's junk classes and add it to a model directory (#23).

    python scripts/train_reason_model.py --model models/default --lab corpus_cache/lab --epochs 12

The corpus's training jobs (the model card's validation jobs held out for early stopping) teach the reasons
(:data:`relion_cryodiscovery.model.reasons.SIMULATED_KIND_REASONS`); the figures written into the card are
measured, real classes first, on the rejected classes labelled by eye
(``benchmarks/real_sets/junk_kinds_by_eye.csv``, docs/real_sets.md) and on the junk of the 80 held-out
simulated jobs. The networks, calibration and decision of the model are not touched.

Training on the real labelled classes too (``--real_weight``) is measured honestly with ``--loso``: each real
set is named by the recipe trained without it, and the pooled held-out figures go into the card; e.g.

    python scripts/train_reason_model.py --fine_tune models/default/reasons.keras --real_weight 20 \
        --sim_classes 5000 --epochs 4 --learning_rate 3e-4 --loso --loso_only --report loso.json

``--extra_jobs 40 --extra_kinds aligned_noise=1`` adds junk-only jobs of a simulated kind drawn only on request
(``aligned_noise``: real-looking noise classes; docs/model_card_notes.md, section 9c) beside the stripe jobs.

``--real_precision 0.8`` picks the naming bar (``min_probability``) on held-out real classes instead of the
simulated validation junk; ``--tried loso.json`` records a recipe measured and not shipped
(docs/model_card_notes.md, section 9a).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from cryodiscovery_dev import corpus_paths
from cryodiscovery_dev.lab_corpus import corpus_reasons

REPO = Path(__file__).resolve().parents[1]


def junk_only_jobs(n_jobs: int, seed: int, kinds: dict[str, float], tag: str = "stripes",
                   first_spec_seed: int = 96000, stream: tuple[int, ...] = ()):
    """Junk-only simulated jobs (``junk_fraction`` 1) of the junk mix ``kinds`` ({lab_classes kind: weight}),
    from the training structures: extra junk examples, each class labelled with its kind's reason
    (:func:`~relion_cryodiscovery.model.reasons.reason_labels`; a class that is good after all is left out).
    Job ``j`` is drawn from ``default_rng([seed, *stream, j])`` with spec seed ``first_spec_seed + j``; its
    classes are group ``f"{tag}{j}"``. The defaults are the stripe jobs' (``{"stripes": 1}``: parallel
    stripes, as real streaked classes look; the corpus's ``streaky`` speckle does not)."""
    from relion_cryodiscovery.data.inputs import model_inputs
    from relion_cryodiscovery.model.reasons import REASONS, reason_labels
    from cryodiscovery_dev.simulate import lab_classes
    from relion_cryodiscovery.training.trainer import TrainingArrays
    from cryodiscovery_dev.lab_corpus import model_split

    train_models, _ = model_split()
    images, features, groups, labels = [], [], [], []
    for j in range(n_jobs):
        rng = np.random.default_rng([seed, *stream, j])
        spec = replace(lab_classes.random_job_spec(rng, first_spec_seed + j, train_models), junk_fraction=1.0)
        classes, truth = lab_classes.simulate_job(spec, kinds)
        inputs = model_inputs(classes)
        reason = reason_labels([t.kind for t in truth], [t.good for t in truth])
        junk = reason >= 0  # a junk-only job's class that is a good view after all teaches no reason
        images.append(inputs.images[junk].astype(np.float16).astype(np.float32))
        features.append(inputs.features[junk])
        groups += [f"{tag}{j}"] * int(junk.sum())
        labels.append(reason[junk])
    n = len(groups)
    return TrainingArrays(np.concatenate(images), np.concatenate(features), np.concatenate(labels),
                          np.array(groups), np.ones(n, np.float32), n_labels=len(REASONS))


def parse_kinds(text: str) -> dict[str, float]:
    """``"aligned_noise=1,stripes=0.5"`` -> {kind: weight} (a bare kind weighs 1)."""
    kinds = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, weight = part.partition("=")
        kinds[kind.strip()] = float(weight) if weight else 1.0
    return kinds


def subsample(arrays, n: int, seed: int):
    """``n`` of the classes of ``arrays`` drawn with ``seed`` (all of them when ``n`` is 0 or too large)."""
    if not n or n >= len(arrays):
        return arrays
    rows = np.sort(np.random.default_rng(seed).choice(len(arrays), n, replace=False))
    return arrays.subset(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--lab", type=Path, default=corpus_paths.LAB_CORPUS)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=20261223)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "real")
    parser.add_argument("--extra", type=Path, default=REPO.parent / "real_extra")
    parser.add_argument("--labels", type=Path, default=REPO / "benchmarks" / "real_sets" / "junk_kinds_by_eye.csv")
    parser.add_argument("--staging", type=Path, default=None, help="checkpoints (default: MODEL/.reasons_training)")
    parser.add_argument("--init_from", default="d1", help="member whose weights start the network ('' for none)")
    parser.add_argument("--fine_tune", type=Path, default=None, metavar="KERAS",
                        help="start every layer (head included) from this trained reason network instead")
    parser.add_argument("--weight_power", type=float, default=0.5, help="inverse-frequency weighting power")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--stripe_jobs", type=int, default=40,
                        help="extra junk-only jobs of parallel stripes added to the training set (0: none)")
    parser.add_argument("--extra_jobs", type=int, default=0,
                        help="extra junk-only jobs of the mix --extra_kinds added to the training set, beside the "
                             "stripe jobs (0: none)")
    parser.add_argument("--extra_kinds", default="aligned_noise=1", metavar="KIND=W,...",
                        help="the junk mix of the --extra_jobs (lab_classes kinds and weights; each class teaches "
                             "its kind's reason)")
    parser.add_argument("--sim_classes", type=int, default=0,
                        help="train on this many simulated junk classes drawn with the seed (0: all), the "
                             "validation junk likewise 1/5 of it; the stripe jobs' classes in proportion")
    parser.add_argument("--real_weight", type=float, default=0.0,
                        help="add the real classes labelled by eye to the training, each weighing this many "
                             "simulated junk classes (0: simulated junk only)")
    parser.add_argument("--loso", action="store_true",
                        help="first measure the recipe leave-one-real-set-out: per labelled real set, train "
                             "without its classes and predict them; the pooled held-out figures go into the card")
    parser.add_argument("--loso_only", action="store_true", help="stop after --loso (the model is not changed)")
    parser.add_argument("--report", type=Path, default=None, help="also write the measured figures to this JSON")
    parser.add_argument("--recipe", default="", help="a short name of this recipe for --loso_only's report")
    parser.add_argument("--tried", type=Path, action="append", default=[],
                        help="a --loso_only report of a recipe tried and not shipped, recorded in the card "
                             "(extra.reasons.real_training_tried) beside the shipped model's figures; repeatable")
    parser.add_argument("--real_precision", type=float, default=None,
                        help="pick min_probability on held-out real classes (this right-when-named target) "
                             "instead of on the simulated validation junk (95%%)")
    parser.add_argument("--evaluate_only", type=Path, default=None, metavar="KERAS",
                        help="measure this trained reasons.keras (and add it) instead of training one")
    args = parser.parse_args()

    from relion_cryodiscovery.evaluation.real_sets import load_real_sets
    from relion_cryodiscovery.evaluation.reasons import (agreement, confident_calls, junk_kinds_by_eye,
                                                         labelled_real_inputs, leave_one_set_out, reason_metrics,
                                                         threshold_leave_one_set_out)
    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.distribute import make_strategy
    from relion_cryodiscovery.model.network import NetworkConfig
    from relion_cryodiscovery.model.reasons import CARD_KEY, REASONS, ReasonModel
    from relion_cryodiscovery.training.reasons import (add_to_model, confidence_threshold, joined, junk_only,
                                                       real_training_arrays, train_reasons)
    from relion_cryodiscovery.training.trainer import TrainConfig, TrainingArrays

    if args.evaluate_only and (args.loso or args.real_weight):
        raise SystemExit("--evaluate_only measures a trained network: no --loso or --real_weight with it")
    card = ModelCard.load(args.model)
    data = np.load(args.lab / "train.npz")
    reasons, jobs = corpus_reasons(args.lab, 0)
    if not (jobs == data["groups"]).all():
        raise SystemExit("classes.csv and train.npz are not in the same order")
    arrays = TrainingArrays(data["images"].astype(np.float32), data["features"], data["labels"], data["groups"])
    is_val = np.isin(arrays.groups, card.training_data["val_jobs"])
    train = junk_only(arrays.subset(np.flatnonzero(~is_val)), reasons[~is_val], args.weight_power)
    val = junk_only(arrays.subset(np.flatnonzero(is_val)), reasons[is_val], args.weight_power)
    # an extra junk-only class weighs what a corpus training class of its reason weighs (inverse frequency)
    reason_weight = {int(label): float(train.weights[train.labels == label][0]) for label in np.unique(train.labels)}
    n_corpus_junk = int((~is_val & (reasons >= 0)).sum())
    train, val = subsample(train, args.sim_classes, args.seed), subsample(val, args.sim_classes // 5, args.seed + 1)
    extras, n_sampled = [], len(train)
    if args.stripe_jobs and not args.evaluate_only:
        extras.append((junk_only_jobs(args.stripe_jobs, args.seed, {"stripes": 1.0}), args.seed + 2))
    if args.extra_jobs and not args.evaluate_only:
        extras.append((junk_only_jobs(args.extra_jobs, args.seed, parse_kinds(args.extra_kinds), tag="extra",
                                      first_spec_seed=97000, stream=(1,)), args.seed + 3))
    for extra, subsample_seed in extras:
        if args.sim_classes:
            extra = subsample(extra, round(len(extra) * n_sampled / n_corpus_junk), subsample_seed)
        weights = np.array([reason_weight[int(label)] for label in extra.labels], np.float32)
        train = joined([train, TrainingArrays(extra.images, extra.features, extra.labels, extra.groups,
                                              extra.weights * weights, n_labels=len(REASONS))])
    print(f"reason model: {len(train)} simulated training and {len(val)} validation junk classes; per reason "
          "(train):", dict(zip(REASONS, np.bincount(train.labels.astype(int), minlength=len(REASONS)).tolist())),
          flush=True)
    labelled = labelled_real_inputs(load_real_sets(args.shared, args.extra), junk_kinds_by_eye(args.labels))
    truth = {s.name: s.truth for s in labelled}
    print("real classes labelled by eye:", {s.name: len(s.truth) for s in labelled}, flush=True)

    staging = args.staging or args.model / ".reasons_training"
    config = TrainConfig(epochs=args.epochs, batch_size=64, seed=args.seed % 2**31, verbose=2, patience=4,
                         learning_rate=args.learning_rate)
    init = args.model / f"{args.init_from}.keras" if args.init_from else None

    def fit(real_sets, checkpoints: Path):
        """The recipe: simulated junk plus ``real_sets``' labelled classes (if --real_weight) -> Keras model."""
        parts = [train] + ([real_training_arrays(real_sets, args.real_weight)] if args.real_weight else [])
        return train_reasons(joined(parts), val, NetworkConfig.from_dict(card.network), config, checkpoints,
                             make_strategy(None), init_from=init, fine_tune=args.fine_tune)

    loso = None
    if args.loso:
        started = time.perf_counter()

        def without(sets):
            kept = {s.name for s in sets}
            left_out = "_".join(s.name for s in labelled if s.name not in kept)
            return ReasonModel.of_keras(fit(sets, staging / f"without_{left_out}"))

        held_out = leave_one_set_out(labelled, without)
        loso = agreement(truth, held_out, 0.0)
        loso["protocol"] = ("leave-one-real-set-out: per labelled real set, the recipe trained without that set's "
                            "classes (simulated junk and the other sets' labelled classes) names it; pooled")
        loso["seconds"] = round(time.perf_counter() - started, 1)
        if args.real_precision:
            loso["threshold"] = threshold_leave_one_set_out(truth, held_out, args.real_precision)
        print("leave-one-set-out (real, held out):", json.dumps(
            {k: loso["pooled"][k] for k in ("classes", "accuracy", "baseline_most_common")}), flush=True)
        for reason, m in loso["pooled"]["per_reason"].items():
            print(f"  loso {reason:22s} support {m['support']:3d} predicted {m['predicted']:3d} "
                  f"recall {m['recall']:.2f} precision {m['precision']:.2f}")
        for name, m in loso["per_set"].items():
            print(f"  loso {name:34s} classes {m['classes']:3d} agreement {m['accuracy']:.2f}")
        if args.loso_only:
            if args.report:
                command = " ".join(["python scripts/train_reason_model.py", *sys.argv[1:]])
                args.report.write_text(json.dumps({"recipe": args.recipe or command, "loso": loso,
                                                   "command": command}, indent=1) + "\n")
            shutil.rmtree(staging, ignore_errors=True)
            return 0

    started = time.perf_counter()
    if args.evaluate_only:
        import keras

        keras_model = keras.saving.load_model(args.evaluate_only, compile=False, safe_mode=True)
        seconds = None
    else:
        keras_model = fit(labelled, staging / "all")
        seconds = round(time.perf_counter() - started, 1)

    model = ReasonModel.of_keras(keras_model)
    real_probabilities = {s.name: model.predict(s.images, s.features) for s in labelled}
    trained_on_real = bool(args.real_weight)
    if args.real_precision:
        # Held-out real predictions pick the bar: the recipe's leave-one-set-out ones, or (a model never
        # trained on real classes) its own.
        if trained_on_real and loso is None:
            raise SystemExit("--real_precision with --real_weight needs --loso (held-out real predictions)")
        threshold = loso["threshold"] if trained_on_real else threshold_leave_one_set_out(
            truth, real_probabilities, args.real_precision)
        model.min_probability = threshold["min_probability"]
        how = (f"the smallest probability at which >= {args.real_precision:.0%} of the most likely kinds of the "
               "held-out real classes labelled by eye are right")
    else:
        threshold = None
        model.min_probability = confidence_threshold(model.predict(val.images, val.features), val.labels)
        how = "the smallest probability at which >= 95% of the simulated validation junk calls are right"
    print(f"named at probability >= {model.min_probability} ({how})", flush=True)
    test = np.load(args.lab / "test.npz")
    test_reasons, _ = corpus_reasons(args.lab, 1)
    junk = test_reasons >= 0
    probabilities = model.predict(test["images"][junk].astype(np.float32), test["features"][junk])
    simulated = reason_metrics(test_reasons[junk], probabilities.argmax(axis=1))
    simulated["confident"] = confident_calls(probabilities, test_reasons[junk], model.min_probability)
    real = agreement(truth, real_probabilities, model.min_probability)
    real["trained_on_these_classes"] = trained_on_real
    print("real (by eye" + (", trained on them: in-sample" if trained_on_real else "") + "):",
          json.dumps({k: real["pooled"][k] for k in ("classes", "accuracy", "baseline_most_common", "confident")}))
    for reason, m in real["pooled"]["per_reason"].items():
        print(f"  real {reason:22s} support {m['support']:3d} predicted {m['predicted']:3d} "
              f"recall {m['recall']:.2f} precision {m['precision']:.2f}")
    print("simulated hold-out:", json.dumps({k: simulated[k] for k in ("classes", "accuracy", "confident")}))
    for reason, m in simulated["per_reason"].items():
        print(f"  sim  {reason:22s} support {m['support']:4d} recall {m['recall']:.2f} precision {m['precision']:.2f}")
    metrics = {
        "min_probability": model.min_probability, "min_probability_rule": how, "real_threshold": threshold,
        "real_by_eye": real, "real_leave_one_set_out": loso, "simulated_holdout": simulated,
        "training_seconds": seconds, "train": config.to_dict(), "network": card.network,
        "init_from": None if args.fine_tune else (args.init_from or None),
        "fine_tune": str(args.fine_tune) if args.fine_tune else None, "weight_power": args.weight_power,
        "stripe_jobs": 0 if args.evaluate_only else args.stripe_jobs,
        "extra_jobs": 0 if args.evaluate_only else args.extra_jobs,
        "extra_kinds": parse_kinds(args.extra_kinds) if args.extra_jobs and not args.evaluate_only else None,
        "sim_classes": args.sim_classes or None,
        "real_weight": args.real_weight, "command": " ".join(["python scripts/train_reason_model.py", *sys.argv[1:]]),
        "real_training_tried": [json.loads(path.read_text()) for path in args.tried] or None}
    if args.report:
        args.report.write_text(json.dumps(metrics, indent=1) + "\n")
    card = ModelCard.load(args.model)  # re-read just before writing: only extra["reasons"] is ours to change
    same_files = args.evaluate_only and args.evaluate_only.resolve() == (args.model / "reasons.keras").resolve()
    if same_files:  # the shipped network measured again: its files and checksums stay as they are
        kept = {k: card.extra[CARD_KEY][k] for k in ("labels", "files", "onnx_max_abs_difference")}
        history = {k: card.extra[CARD_KEY][k] for k in ("training_seconds", "train", "init_from", "weight_power",
                                                         "stripe_jobs", "extra_jobs", "extra_kinds", "training_command",
                                                         "design_sets", "design_note")
                   if k in card.extra[CARD_KEY]}
        record = {**kept, **metrics, **history}
        card.extra[CARD_KEY] = record
    else:
        record = add_to_model(keras_model, card, args.model, metrics)
    card.save(args.model)
    shutil.rmtree(staging, ignore_errors=True)
    print("wrote", {k: v for k, v in record.items() if k == "files"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
