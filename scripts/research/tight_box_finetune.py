#!/usr/bin/env python3
"""Does teaching the ensemble tightly boxed particles fix the real mixture it ranks badly? (issue #20)

    python scripts/research/tight_box_finetune.py --train_jobs 100 --test_jobs 30 --o corpus_cache/tight_model

The real SLICEM mixture's good classes that score low are its larger complex boxed tightly (density out to
the box edge), which the lab-like corpus never makes (the particle fills 35-85% of the box). This simulates
jobs boxed tightly (:func:`cryodiscovery_dev.probes.tight_box_spec`: 85-100% fill) of the training
structures, fine-tunes the shipped ensemble on them beside a sample of the corpus (the boosted recipe,
``init_from``), recalibrates on the corpus's validation jobs, and judges the shipped and the tuned model at
the default operating point on tight-box jobs of held-out structures, the lab-like hold-out and every real
set. The tuned model is written to ``--o`` (not shipped by this script).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from cryodiscovery_dev import corpus_paths


def tight_jobs(seeds, models) -> list[dict]:
    """Tight-box jobs as model inputs with their labels."""
    from cryodiscovery_dev.probes import simulated_jobs, tight_box_spec

    return [{"name": f"tight{seed}", "images": inputs.images, "features": inputs.features,
             "labels": np.array([c.good for c in truth], int)}
            for seed, _, inputs, truth in simulated_jobs(tight_box_spec, seeds, models)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus_paths.add_model_and_data_args(parser)
    parser.add_argument("--train_jobs", type=int, default=100)
    parser.add_argument("--test_jobs", type=int, default=30)
    parser.add_argument("--sim_classes", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--o", type=Path, required=True)
    args = parser.parse_args()

    from cryodiscovery_dev.judging import judged, real_inputs
    from cryodiscovery_dev.lab_corpus import concat, lab_arrays, model_split
    from relion_cryodiscovery.model.calibration import operating_points
    from relion_cryodiscovery.model.ensemble import BoostedEnsemble
    from relion_cryodiscovery.model.network import NetworkConfig
    from relion_cryodiscovery.training.boosting import BoostingConfig, train_boosted_ensemble
    from relion_cryodiscovery.training.trainer import TrainConfig, TrainingArrays

    shipped = BoostedEnsemble.load(args.model)
    card = shipped.card
    train_models, test_models = model_split()
    tight_train = tight_jobs(range(40_000, 40_000 + args.train_jobs), train_models)
    tight_test = tight_jobs(range(41_000, 41_000 + args.test_jobs), test_models)
    print(f"simulated {len(tight_train)} + {len(tight_test)} tight-box jobs", flush=True)
    corpus = lab_arrays(args.lab / "train.npz")
    is_val = np.isin(corpus.groups, card.training_data["val_jobs"])
    val = corpus.subset(np.flatnonzero(is_val))
    rng = np.random.default_rng(20261207)
    sim = corpus.subset(np.sort(rng.choice(np.flatnonzero(~is_val), size=args.sim_classes, replace=False)))
    parts = [TrainingArrays(j["images"], j["features"], j["labels"], np.full(len(j["labels"]), j["name"]))
             for j in tight_train]
    config = BoostingConfig(network=NetworkConfig(**card.network),
                            train=TrainConfig(epochs=args.epochs, patience=3, verbose=0, seed=7),
                            fine_tune_learning_rate=args.learning_rate, max_false_negative_rate=0.05,
                            threshold_cap=0.5, model_version="tight-box-experiment")
    tuned = train_boosted_ensemble(concat([sim, *parts]), val, config, None, args.o, init_from=shipped)
    val_scores = tuned.predict(val.images, val.features).calibrated
    tuned.card.extra["decision"] = operating_points(val_scores, val.labels, tuned.card.threshold,
                                                    tuned.card.threshold_rule)
    tuned.card.save(args.o)
    test = np.load(args.lab / "test.npz")
    holdout = {"name": "lab hold-out (pooled)", "images": test["images"].astype(np.float32),
               "features": test["features"], "labels": test["labels"].astype(int)}
    results = {}
    for group, jobs in (("real", real_inputs(args.shared, args.extra)), ("tight", tight_test), ("holdout", [holdout])):
        for job in jobs:
            results[job["name"]] = {
                name: {k: v for k, v in judged(model, model.card.operating_point("balanced"), job["images"],
                                               job["features"], job["labels"]).items() if k != "scores"}
                for name, model in (("shipped", shipped), ("tuned", tuned))}
            s, t = results[job["name"]]["shipped"], results[job["name"]]["tuned"]
            if group != "tight":
                print(f"{job['name']:40s} good {t['good']:4d} lost {s['lost']:3d} -> {t['lost']:3d}  junk {t['junk']:4d} "
                      f"removed {s['junk_removed']:4d} -> {t['junk_removed']:4d}  auc {s['auc']:.3f} -> {t['auc']:.3f}", flush=True)
    tight = {m: {k: sum(results[j["name"]][m][k] for j in tight_test) for k in ("good", "lost", "junk", "junk_removed")}
             for m in ("shipped", "tuned")}
    print("tight-box test jobs (pooled; the bar per job):", tight, flush=True)
    (args.o / "tight_box_results.json").write_text(json.dumps({"per_job": results, "tight_pooled": tight}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
