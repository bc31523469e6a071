#!/usr/bin/env python3
"""Judge a model on real class averages first, then on simulated hold-outs; baselines beside each.

    python scripts/evaluate_model.py --model models/default --lab corpus_cache/lab --write_card

Tables (each with the two trivial baselines on the same classes: the class distribution, where the
source has it, and the high-frequency power fraction):

1. Real class averages (``../shared/real`` and ``../real_extra``; :mod:`relion_cryodiscovery.evaluation.real_sets`),
   set by set, with the job-level domain check (:mod:`relion_cryodiscovery.model.domain`).
2. Lab-like simulated jobs of structures never trained on (``corpus_cache/lab/test.npz``).
3. Real ``relion_refine`` Class2D/Class3D jobs of held-out structures (``corpus/relion*``).

``--write_card`` stores the results in the model's ``model_card.json`` (``extra``) and renders
``docs/model_card.md``; otherwise they are printed as JSON.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import sys
from pathlib import Path

import numpy as np

from cryodiscovery_dev import corpus_paths

REPO = Path(__file__).resolve().parents[1]


def _f(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def pooled_metrics(labels, scores, threshold, hf, distribution) -> dict:
    from relion_cryodiscovery.evaluation.metrics import expected_calibration_error, roc_auc

    labels = np.asarray(labels).astype(int)
    selected = scores >= threshold
    good = labels == 1
    with_dist = np.isfinite(distribution)
    return {
        "classes": int(len(labels)), "good": int(good.sum()),
        "auc": float(roc_auc(labels, scores)),
        "accuracy": float((selected == good).mean()),
        "fnr": float((good & ~selected).sum() / max(good.sum(), 1)),
        "fpr": float((~good & selected).sum() / max((~good).sum(), 1)),
        "ece": float(expected_calibration_error(labels, scores)),
        "auc_hf_baseline": float(roc_auc(labels, hf)),
        "auc_distribution_baseline": float(roc_auc(labels[with_dist], distribution[with_dist])) if with_dist.sum() > 10 and 0 < labels[with_dist].sum() < with_dist.sum() else float("nan"),
        "classes_with_distribution": int(with_dist.sum()),
    }


def select_at(level, scores, card, features):
    """The classes a job keeps at one strictness setting (the selection rule the job applies)."""
    from relion_cryodiscovery.data.features import feature_values
    from relion_cryodiscovery.selection import SelectionRule, select_classes

    return select_classes(np.asarray(scores, float), None, [""] * len(scores),
                          SelectionRule.at(card.operating_point(level)), allow_empty=True,
                          resolution=feature_values(features, "spectral_resolution_kd"),
                          centre=feature_values(features, "ring_1"))


def at_operating_points(labels, scores, card, features) -> dict:
    """Good classes lost and junk removed at each strictness setting."""
    from relion_cryodiscovery.model.card import STRICTNESS_LEVELS

    labels = np.asarray(labels).astype(int)
    out = {}
    for level in STRICTNESS_LEVELS:
        chosen = select_at(level, scores, card, features)
        good = labels == 1
        out[level] = {"lost": int((good & ~chosen.selected).sum()),
                      "fnr": float((good & ~chosen.selected).sum() / max(good.sum(), 1)),
                      "junk_removed": float((~good & ~chosen.selected).sum() / (~good).sum()) if (~good).any() else float("nan"),
                      "threshold": float(chosen.threshold)}
    return out


def evaluate_reasons(args, card, ensemble, default_level: str) -> dict | None:
    """The reason model against the real rejected classes labelled by eye, the simulated hold-out's junk,
    and our A-F grades against the expert's on the Magellon set (None: the model has no reason model).

    A reason model trained on the labelled real classes cannot be judged on them: its real figures are then
    marked in-sample and the card's headline is the leave-one-real-set-out measurement recorded when it was
    trained (``scripts/train_reason_model.py --loso``, ``extra.reasons.real_leave_one_set_out``). The
    recipes tried and not shipped are carried along (``extra.reasons.real_training_tried``). Grades use the
    kinds as the outputs name them (``unclear`` below the model's ``min_probability``), as a job does."""
    import pandas as pd
    from scipy.stats import spearmanr

    from relion_cryodiscovery.data.inputs import oriented_model_inputs
    from relion_cryodiscovery.evaluation.real_sets import load_real_sets
    from relion_cryodiscovery.evaluation.reasons import (confident_calls, grade_rank_correlation, junk_kinds_by_eye,
                                                         real_reason_agreement, reason_metrics, split_agreement)
    from relion_cryodiscovery.model.reasons import CARD_KEY, ReasonModel, grade, most_likely

    model = ReasonModel.load(args.model, card, "onnxruntime")
    if model is None:
        return None
    record = card.extra[CARD_KEY]
    out = {"real_by_eye": real_reason_agreement(model, load_real_sets(args.shared, args.extra),
                                                junk_kinds_by_eye(REPO / "benchmarks" / "real_sets" / "junk_kinds_by_eye.csv"))}
    out["real_by_eye"]["trained_on_these_classes"] = bool(record.get("real_weight"))
    if record.get("design_sets"):  # the sets looked at while the reason model's training data were designed
        out["real_by_eye"]["split"] = split_agreement(out["real_by_eye"]["per_set"], record["design_sets"])
    out["training"] = {k: record.get(k) for k in ("real_weight", "min_probability_rule", "real_threshold",
                                                   "real_leave_one_set_out", "real_training_tried", "command",
                                                   "design_note")}
    from cryodiscovery_dev.lab_corpus import corpus_reasons

    test = np.load(args.lab / "test.npz")
    truth, _ = corpus_reasons(args.lab, 1)
    junk = truth >= 0
    probabilities = model.predict(test["images"][junk].astype(np.float32), test["features"][junk])
    out["simulated_holdout"] = reason_metrics(truth[junk], probabilities.argmax(axis=1))
    out["simulated_holdout"]["confident"] = confident_calls(probabilities, truth[junk], model.min_probability)
    for real in load_real_sets(args.shared, args.extra):
        if real.spec.name != "magellon_graded":
            continue
        expert = pd.read_csv(args.shared / "magellon_graded_classes" / "grades.csv").set_index("panel")["grade_letter"]
        inputs, _ = oriented_model_inputs(real.classes)
        scores = ensemble.predict(inputs.images, inputs.features).calibrated
        chosen = select_at(default_level, scores, card, inputs.features)
        eligible = np.ones(len(scores), bool) if chosen.eligible is None else chosen.eligible
        kinds, _ = most_likely(model.predict(inputs.images, inputs.features), model.min_probability)
        ours = [grade(bool(s), float(p), k, bool(e)) for s, p, k, e in zip(chosen.selected, scores, kinds, eligible)]
        theirs = [expert[int(n)] for n in real.classes.class_numbers]
        out["magellon_grades"] = {
            "classes": len(ours), "ours": ours, "expert": theirs, "min_probability": model.min_probability,
            "spearman": grade_rank_correlation(ours, theirs),
            "spearman_of_score": float(spearmanr(-scores, ["ABCDEF".index(g) for g in theirs]).statistic)}
    return out


def blob_probe(real_sets, ensemble, card) -> list[dict]:
    """Semi-real jobs of a high-resolution job's featureless blobs (:func:`cryodiscovery_dev.probes.blob_jobs`):
    what a person rejects beside sharp classes at a glance; how much of it each strictness removes."""
    from cryodiscovery_dev.probes import blob_jobs
    from relion_cryodiscovery.data.inputs import oriented_model_inputs

    rows = []
    for name, blur, classes, labels in blob_jobs(real_sets):
        inputs, _ = oriented_model_inputs(classes)
        scores = ensemble.predict(inputs.images, inputs.features).calibrated
        rows.append({"set": name, "blur": f"box/{blur}", "classes": int(len(labels)),
                     "blob_scores": [round(float(x), 3) for x in np.quantile(scores[labels == 0], [0, 0.5, 1])],
                     "operating_points": at_operating_points(labels, scores, card, inputs.features)})
        ops = " ".join(f"{k[0]}:{v['lost']}/{_f(v['junk_removed'], 2)}" for k, v in rows[-1]["operating_points"].items())
        print(f"blob probe {name:35s} box/{blur}: blob scores {rows[-1]['blob_scores']} [{ops}]", flush=True)
    return rows


#: The early-round probe: this many simulated first-round jobs of held-out structures
#: (seeds from :data:`cryodiscovery_dev.probes.EARLY_SEED`).
EARLY_JOBS = 60


def early_round_probe(ensemble, card, jobs: int = EARLY_JOBS) -> dict:
    """Simulated first-round jobs (:func:`cryodiscovery_dev.probes.early_round_spec`: few particles per class,
    coarse classes) of held-out structures, judged against job-relative labels
    (:func:`cryodiscovery_dev.simulate.truth.job_relative_labels`) and the simulator's own; and
    junk-only jobs made of their junk classes (a job of only junk must keep nothing)."""
    from cryodiscovery_dev.lab_corpus import model_split
    from cryodiscovery_dev.probes import EARLY_SEED, early_round_spec, simulated_jobs, truth_labels
    from cryodiscovery_dev.simulate.truth import VIEW_KINDS

    _, test_models = model_split()
    labels, relative, scores, features, groups, junk_jobs = [], [], [], [], [], []
    for seed, _, inputs, truth in simulated_jobs(early_round_spec, range(EARLY_SEED, EARLY_SEED + jobs), test_models):
        s = ensemble.predict(inputs.images, inputs.features).calibrated
        good, good_relative = truth_labels(truth)
        labels.append(good)
        relative.append(good_relative)
        scores.append(s)
        features.append(inputs.features)
        groups.append(np.full(len(s), seed))
        junk = np.array([c.kind not in VIEW_KINDS for c in truth])
        if junk.sum() >= 3:
            junk_jobs.append((s[junk], inputs.features[junk]))
    labels, relative, scores, features, groups = (np.concatenate(x) for x in (labels, relative, scores, features, groups))
    out = {"jobs": jobs, "classes": int(len(scores)), "good": int(labels.sum()), "good_relative": int(relative.sum()),
           "operating_points": pooled_operating_points(labels, scores, groups, card, features),
           "operating_points_relative": pooled_operating_points(relative, scores, groups, card, features),
           "junk_only": junk_only_probe(junk_jobs, card)}
    print("early-round probe", json.dumps(out), flush=True)
    return out


def junk_only_probe(junk_jobs, card) -> dict:
    """Jobs of junk classes only ((scores, features) per job): at each strictness, the share of jobs that keep
    any class and the share of classes kept."""
    from relion_cryodiscovery.model.card import STRICTNESS_LEVELS

    out = {"jobs": len(junk_jobs), "classes": int(sum(len(s) for s, _ in junk_jobs))}
    for level in STRICTNESS_LEVELS:
        kept = [select_at(level, s, card, f).selected for s, f in junk_jobs]
        out[level] = {"jobs_keeping_any": float(np.mean([k.any() for k in kept])),
                      "classes_kept": float(sum(k.sum() for k in kept) / max(out["classes"], 1))}
    return out


def pooled_operating_points(labels, scores, groups, card, features) -> dict:
    """:func:`at_operating_points` job by job (the bar is per job), pooled over the classes."""
    labels, scores, groups = np.asarray(labels).astype(int), np.asarray(scores, float), np.asarray(groups)
    lost, junk, n_good, n_bad = {}, {}, int((labels == 1).sum()), int((labels == 0).sum())
    for g in np.unique(groups):
        m = groups == g
        for level, v in at_operating_points(labels[m], scores[m], card, features[m]).items():
            lost[level] = lost.get(level, 0) + v["lost"]
            junk[level] = junk.get(level, 0) + round(v["junk_removed"] * (labels[m] == 0).sum()) if (labels[m] == 0).any() else junk.get(level, 0)
    return {level: {"fnr": lost[level] / max(n_good, 1), "junk_removed": junk[level] / max(n_bad, 1)} for level in lost}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus_paths.add_model_and_data_args(parser)
    parser.add_argument("--skip_relion", action="store_true", help="skip the relion_refine hold-out (slow)")
    parser.add_argument("--write_card", action="store_true")
    parser.add_argument("--card", type=Path, default=REPO / "docs" / "model_card.md")
    args = parser.parse_args()

    from relion_cryodiscovery.data.features import FEATURE_NAMES, N_FEATURES
    from relion_cryodiscovery.data.inputs import oriented_model_inputs
    from relion_cryodiscovery.evaluation.real_sets import hf_baseline, load_real_sets, set_metrics
    from relion_cryodiscovery.model.domain import check_job
    from relion_cryodiscovery.model.ensemble import BoostedEnsemble

    ensemble = BoostedEnsemble.load(args.model)
    card = ensemble.card
    dropped = card.extra.get("ablation_dropped_groups") or []
    if dropped:  # an ablation model: hide the same feature groups it was trained without
        from relion_cryodiscovery.data.features import hide_groups

        predict = ensemble.predict
        ensemble.predict = lambda images, features, **kw: predict(images, hide_groups(features, dropped), **kw)
    threshold = float(card.threshold)
    reference = card.extra.get("domain")
    results: dict = {"threshold": threshold, "model_version": card.model_version}
    default_level = card.extra.get("decision", {}).get("default", "balanced")  # table 1's "kept", "FNR", "junk removed"

    # 1. real class averages
    real_rows = []
    for real in load_real_sets(args.shared, args.extra):
        variants = [(real.spec.name, real.spec.what, real.classes)]
        if real.classes.metadata or real.classes.particle_counts is not None:  # as a bare exported stack too
            variants.append((real.spec.name + " (stack only)", "the same classes without their particle counts",
                             replace(real.classes, metadata={}, particle_counts=None)))
        for name, what, classes in variants:
            inputs, polarity = oriented_model_inputs(classes)
            scores = ensemble.predict(inputs.images, inputs.features)
            check = check_job(inputs.features[inputs.usable], scores.p_d1[inputs.usable], scores.p_d2[inputs.usable],
                              reference, inputs.images[inputs.usable], args.model, int((~inputs.usable).sum()))
            row = {"set": name, "what": what, "positives_only": real.spec.positives_only,
                   **set_metrics(real.labels, scores.calibrated,
                                 select_at(default_level, scores.calibrated, card, inputs.features).selected,
                                 hf_baseline(classes), real.counts),
                   "d3_decided": int(scores.d3_used.sum()),
                   "contrast_inverted": bool(polarity.inverted),
                   "operating_points": at_operating_points(real.labels, scores.calibrated, card, inputs.features),
                   "domain": check.to_dict() if check is not None else None,
                   "scores": [round(float(x), 4) for x in scores.calibrated]}
            real_rows.append(row)
            ops = " ".join(f"{k[0]}:{v['lost']}/{_f(v['junk_removed'], 2)}" for k, v in row["operating_points"].items())
            print(f"{row['set']:45s} n={row['classes']:3d} good={row['good']:3d} kept={row['kept']:3d} FN={row['false_negatives']:2d} "
                  f"junk_rm={_f(row['junk_removed'], 2)} [{ops}] inv={int(polarity.inverted)} "
                  f"auc={_f(row['auc'])} hf={_f(row['auc_hf_baseline'])} dist={_f(row['auc_distribution_baseline'])} "
                  f"min={row['score_min']:.2f} d3={row['d3_decided']} ood={check.out_of_domain if check else None}", flush=True)
    results["real_sets"] = real_rows
    results["blob_probe"] = blob_probe(load_real_sets(args.shared, args.extra), ensemble, card)
    results["early_round_probe"] = early_round_probe(ensemble, card)

    # 2. lab-like hold-out
    test_npz = args.lab / "test.npz"
    if test_npz.is_file():
        z = np.load(test_npz)
        feats = z["features"]
        scores = ensemble.predict(z["images"].astype(np.float32), feats)
        col = {n: i for i, n in enumerate(FEATURE_NAMES)}
        hf = feats[:, col["hf_power_fraction"]]
        dist = np.where(feats[:, N_FEATURES + col["particle_fraction_x_k"]] == 0, feats[:, col["particle_fraction_x_k"]], np.nan)
        lab = pooled_metrics(z["labels"], scores.calibrated, threshold, hf, dist)
        groups = z["groups"]
        lab["jobs"] = int(len(set(groups.tolist())))
        flagged = []
        for g in sorted(set(groups.tolist())):
            m = groups == g
            check = check_job(feats[m], scores.p_d1[m], scores.p_d2[m], reference, z["images"][m], args.model)
            flagged.append(bool(check.out_of_domain) if check else False)
        lab["jobs_flagged_out_of_domain"] = int(sum(flagged))
        lab["operating_points"] = pooled_operating_points(z["labels"], scores.calibrated, groups, card, feats)
        from cryodiscovery_dev.lab_corpus import corpus_junk_kinds, job_relative_corpus_labels

        relative = job_relative_corpus_labels(args.lab, 1)
        lab["operating_points_relative"] = pooled_operating_points(relative, scores.calibrated, groups, card, feats)
        lab["good_relative"] = int(relative.sum())
        junk = corpus_junk_kinds(args.lab, 1)
        lab["junk_only"] = junk_only_probe([(scores.calibrated[(groups == g) & junk], feats[(groups == g) & junk])
                                            for g in np.unique(groups) if ((groups == g) & junk).sum() >= 3], card)
        results["lab_holdout"] = lab
        print("lab hold-out", json.dumps(lab), flush=True)

    # 3. relion_refine hold-out
    if not args.skip_relion:
        from cryodiscovery_dev.holdout import read_projects, real_projects, split_projects
        from relion_cryodiscovery.data.preprocess import PreprocessConfig

        _, test_projects = split_projects(real_projects(REPO))
        jobs = read_projects(test_projects, PreprocessConfig.from_dict(card.preprocessing))
        labels, sc, hfs, dists, job_features, flagged = [], [], [], [], [], 0
        col = {n: i for i, n in enumerate(FEATURE_NAMES)}
        for job in jobs:
            u = job.inputs.usable
            if not u.any():
                continue
            s = ensemble.predict(job.inputs.images[u], job.inputs.features[u])
            check = check_job(job.inputs.features[u], s.p_d1, s.p_d2, reference, job.inputs.images[u], args.model)
            flagged += bool(check and check.out_of_domain)
            labels.append(job.labels[u])
            job_features.append(job.inputs.features[u])
            sc.append(s.calibrated)
            hfs.append(job.inputs.features[u][:, col["hf_power_fraction"]])
            counts = job.particle_counts[u] if job.particle_counts is not None else np.full(u.sum(), np.nan)
            dists.append(counts / max(np.nansum(counts), 1) * len(counts))
        rel = pooled_metrics(np.concatenate(labels), np.concatenate(sc), threshold, np.concatenate(hfs), np.concatenate(dists))
        rel["jobs"] = len(labels)
        rel["operating_points"] = pooled_operating_points(
            np.concatenate(labels), np.concatenate(sc), np.concatenate([[i] * len(x) for i, x in enumerate(labels)]), card,
            np.concatenate(job_features))
        rel["jobs_flagged_out_of_domain"] = int(flagged)
        results["relion_holdout"] = rel
        print("relion hold-out", json.dumps(rel), flush=True)

    # 4. junk kinds and grades (issue #23), real classes first
    results["reasons"] = evaluate_reasons(args, card, ensemble, default_level)
    if results["reasons"]:
        print("reasons", json.dumps({k: v for k, v in results["reasons"].items() if k != "per_set"}), flush=True)

    if args.write_card:
        from relion_cryodiscovery.model.card import ModelCard

        fresh = ModelCard.load(args.model)  # the card as it is now: only the evaluation is replaced
        fresh.extra["evaluation"] = results
        fresh.save(args.model)
        from cryodiscovery_dev.example import example_montage  # the select command on a copy of the bundled example

        example_montage(args.model, REPO / "docs" / "images" / "example_montage.png")
        import subprocess

        subprocess.run([sys.executable, str(REPO / "scripts" / "render_model_card.py"), "--model", str(args.model),
                        "--o", str(args.card)], check=True)
        print(f"wrote {args.model / 'model_card.json'} and {args.card}")
    else:
        print(json.dumps({k: v for k, v in results.items() if k != "real_sets"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
