#!/usr/bin/env python3
"""Train the default model on the lab-like corpus plus the real relion_refine corpus; judge it on real classes.

    python scripts/make_lab_corpus.py --jobs 480 --test_jobs 80 --seed 20261201 --out corpus_cache/lab --stacks 16
    python scripts/train_lab_model.py --lab corpus_cache/lab --o models/default --model_version 0.4.0 --epochs 16

1. Training data: the lab-like simulated jobs of training structures (``corpus_cache/lab/train.npz``)
   and the real ``relion_refine`` projects of training structures (``corpus/relion*``, split by the
   same structure hash, :mod:`cryodiscovery_dev.holdout`). Validation: 15% of the jobs of
   each, by job.
2. The boosted ensemble (d1, d2, d3), Platt calibration and threshold as before
   (:func:`relion_cryodiscovery.training.boosting.train_boosted_ensemble`).
3. The job-level out-of-distribution reference (:mod:`relion_cryodiscovery.model.domain`).
4. Scored: real class averages (``../shared/real`` and ``--extra``), the lab hold-out (structures never
   trained on) and the real relion_refine hold-out, each beside the trivial baselines; written into
   ``model_card.json`` (``extra``). ``scripts/evaluate_model.py --write_card`` then adds the evaluation
   and renders ``docs/model_card.md`` with ``scripts/render_model_card.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from cryodiscovery_dev.lab_corpus import concat, lab_arrays, split_val

REPO = Path(__file__).resolve().parents[1]


def weighted(arrays, weight: float):
    """The same classes with every sample weight set to ``weight`` (unchanged at weight 1)."""
    if weight == 1.0:
        return arrays
    return dataclasses.replace(arrays, weights=np.full(len(arrays), weight, np.float32))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", type=Path, default=REPO / "corpus_cache" / "lab", help="make_lab_corpus.py output")
    parser.add_argument("--o", type=Path, default=REPO / "models" / "default", help="model directory to write")
    parser.add_argument("--staging", type=Path, default=None, help="training folder (default: <o>.training)")
    parser.add_argument("--model_version", default="0.5.1")
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--no_real_corpus", action="store_true", help="train on the lab corpus only")
    parser.add_argument("--real_weight", type=float, default=1.0,
                        help="sample weight of the real relion_refine training classes (the lab corpus has weight 1)")
    parser.add_argument("--max_fnr", type=float, default=0.05,
                        help="threshold rule: the highest threshold with validation FNR <= this")
    parser.add_argument("--recalibrate", action="store_true",
                        help="reload the members from the staging folder and redo only calibration, threshold "
                             "and the domain reference")
    parser.add_argument("--drop_groups", default="",
                        help="ablation: comma-separated feature groups (e.g. spectral,image) hidden from training "
                             "and, via the card, from evaluation")
    args = parser.parse_args()

    from relion_cryodiscovery.data.features import FEATURE_FILLS, FEATURE_NAMES
    from relion_cryodiscovery.data.preprocess import PreprocessConfig
    from relion_cryodiscovery.model.distribute import make_strategy
    from relion_cryodiscovery.model.network import NetworkConfig
    from relion_cryodiscovery.training.boosting import BoostingConfig, train_boosted_ensemble
    from cryodiscovery_dev.holdout import read_projects, real_projects, split_projects
    from relion_cryodiscovery.training.run import to_arrays
    from relion_cryodiscovery.training.trainer import TrainConfig

    started = time.perf_counter()
    staging = args.staging or args.o.with_name(args.o.name + ".training")
    lab_train, lab_val = split_val(lab_arrays(args.lab / "train.npz"), 0.15, args.seed)
    parts_train, parts_val = [lab_train], [lab_val]
    real_train_projects, real_test_projects = split_projects(real_projects(REPO))
    if not args.no_real_corpus:
        jobs = read_projects(real_train_projects, PreprocessConfig())
        real = to_arrays([j for j in jobs if j.dimensionality == 2])
        real3d = to_arrays([j for j in jobs if j.dimensionality == 3]) if any(j.dimensionality == 3 for j in jobs) else None
        real_tr, real_va = split_val(real, 0.15, args.seed + 1)
        parts_train.append(weighted(real_tr, args.real_weight))
        parts_val.append(real_va)
        if real3d is not None:  # 3D classes: each of their 6 views is a sample labelled with its class
            flat = type(real3d)(real3d.images.reshape(-1, 1, *real3d.images.shape[2:]),
                                np.repeat(real3d.features, real3d.n_views, 0), np.repeat(real3d.labels, real3d.n_views),
                                np.repeat(real3d.groups, real3d.n_views))
            tr3, va3 = split_val(flat, 0.2, args.seed + 2)
            parts_train.append(weighted(tr3, args.real_weight))
            parts_val.append(va3)
    train, val = concat(parts_train), concat(parts_val)
    dropped = [g for g in args.drop_groups.split(",") if g]
    if dropped:
        from relion_cryodiscovery.data.features import hide_groups

        train.features, val.features = hide_groups(train.features, dropped), hide_groups(val.features, dropped)
    print(f"train {len(train)} ({int(train.labels.sum())} good), val {len(val)} ({int(val.labels.sum())} good)", flush=True)

    config = BoostingConfig(network=NetworkConfig(), model_version=args.model_version,
                            max_false_negative_rate=args.max_fnr,
                            train=TrainConfig(epochs=args.epochs, batch_size=64, seed=args.seed % 2**31, verbose=2,
                                              patience=5))
    if args.recalibrate:  # same data, same members: only the calibration and threshold rule change
        from relion_cryodiscovery.model.ensemble import BoostedEnsemble
        from relion_cryodiscovery.training.boosting import calibrate_ensemble

        ensemble = BoostedEnsemble.load(staging)
        ensemble.card.model_version = args.model_version
        calibrate_ensemble(ensemble, val, config, 256, None, print)
        ensemble.card.extra["boosting"] = config.to_dict()
    else:
        ensemble = train_boosted_ensemble(
            train, val, config, make_strategy(None), staging, resume=staging.is_dir(),
            feature_names=list(FEATURE_NAMES), feature_fills=[float(x) for x in FEATURE_FILLS],
            preprocessing=PreprocessConfig().to_dict())
    from relion_cryodiscovery.model.domain import REFERENCE_FILE, fit_domain_reference

    domain = fit_domain_reference(train.features, train.groups, val.features, val.groups, ensemble.card.feature_names,
                                  train_images=train.images, val_images=val.images, train_labels=train.labels,
                                  val_labels=val.labels, seed=args.seed)
    ensemble.card.extra["domain"] = domain.save(staging)
    from relion_cryodiscovery.model.calibration import operating_points

    val_scores = ensemble.predict(val.images, val.features).calibrated
    ensemble.card.extra["decision"] = operating_points(val_scores, val.labels, ensemble.card.threshold,
                                                       ensemble.card.threshold_rule)
    if args.recalibrate:
        ensemble.card.extra["recalibration_command"] = " ".join(["python scripts/train_lab_model.py", *sys.argv[1:]])
    else:
        ensemble.card.extra["corpus"] = {
            "lab": json.loads((args.lab / "summary.json").read_text()),
            "real_relion_train_projects": 0 if args.no_real_corpus else len(real_train_projects),
            "command": " ".join(["python scripts/train_lab_model.py", *sys.argv[1:]]),
        }
    if not args.recalibrate:
        ensemble.card.extra["training_wall_seconds"] = round(time.perf_counter() - started, 1)
    if dropped:
        ensemble.card.extra["ablation_dropped_groups"] = dropped
    ensemble.card.save(staging)
    args.o.mkdir(parents=True, exist_ok=True)
    for name in ("d1.keras", "d2.keras", "d3.keras", "model_card.json", REFERENCE_FILE):
        shutil.copyfile(staging / name, args.o / name)
    print(f"model written to {args.o} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
