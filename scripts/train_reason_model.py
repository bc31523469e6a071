#!/usr/bin/env python3
"""Train the reason model on the lab-like corpus's junk classes and add it to a model directory (#23).

    python scripts/train_reason_model.py --model models/default --lab corpus_cache/lab --epochs 12

The corpus's training jobs (the model card's validation jobs held out for early stopping) teach the reasons
(:data:`relion_cryodiscovery.model.reasons.SIMULATED_KIND_REASONS`); the figures written into the card are
measured, real classes first, on the rejected classes labelled by eye
(``benchmarks/real_sets/junk_kinds_by_eye.csv``, docs/real_sets.md) and on the junk of the 80 held-out
simulated jobs. The networks, calibration and decision of the model are not touched.
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


def stripe_jobs(n_jobs: int, seed: int):
    """Junk-only simulated jobs of parallel stripes (``lab_classes`` kind ``stripes``, as real streaked classes
    look; the corpus's ``streaky`` speckle does not), from the training structures: extra ``noise`` examples."""
    from relion_cryodiscovery.data.inputs import model_inputs
    from relion_cryodiscovery.model.reasons import REASONS
    from relion_cryodiscovery.simulate import lab_classes
    from relion_cryodiscovery.training.trainer import TrainingArrays
    from cryodiscovery_dev.lab_corpus import model_split

    train_models, _ = model_split()
    images, features, groups = [], [], []
    for j in range(n_jobs):
        rng = np.random.default_rng([seed, j])
        spec = replace(lab_classes.random_job_spec(rng, 96000 + j, train_models), junk_fraction=1.0)
        classes, _ = lab_classes.simulate_job(spec, {"stripes": 1.0})
        inputs = model_inputs(classes)
        images.append(inputs.images.astype(np.float16).astype(np.float32))
        features.append(inputs.features)
        groups += [f"stripes{j}"] * len(inputs.images)
    n = len(groups)
    return TrainingArrays(np.concatenate(images), np.concatenate(features), np.full(n, REASONS.index("noise")),
                          np.array(groups), np.ones(n, np.float32), n_labels=len(REASONS))


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
    parser.add_argument("--weight_power", type=float, default=0.5, help="inverse-frequency weighting power")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--stripe_jobs", type=int, default=40,
                        help="extra junk-only jobs of parallel stripes added to the training set (0: none)")
    parser.add_argument("--evaluate_only", type=Path, default=None, metavar="KERAS",
                        help="measure this trained reasons.keras (and add it) instead of training one")
    args = parser.parse_args()

    from relion_cryodiscovery.evaluation.real_sets import load_real_sets
    from relion_cryodiscovery.evaluation.reasons import (confident_calls, junk_kinds_by_eye, real_reason_agreement,
                                                         reason_metrics)
    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.distribute import make_strategy
    from relion_cryodiscovery.model.network import NetworkConfig
    from relion_cryodiscovery.model.reasons import REASONS, ReasonModel
    from relion_cryodiscovery.training.reasons import add_to_model, confidence_threshold, junk_only, train_reasons
    from relion_cryodiscovery.training.trainer import TrainConfig, TrainingArrays

    card = ModelCard.load(args.model)
    data = np.load(args.lab / "train.npz")
    reasons, jobs = corpus_reasons(args.lab, 0)
    if not (jobs == data["groups"]).all():
        raise SystemExit("classes.csv and train.npz are not in the same order")
    arrays = TrainingArrays(data["images"].astype(np.float32), data["features"], data["labels"], data["groups"])
    is_val = np.isin(arrays.groups, card.training_data["val_jobs"])
    train = junk_only(arrays.subset(np.flatnonzero(~is_val)), reasons[~is_val], args.weight_power)
    val = junk_only(arrays.subset(np.flatnonzero(is_val)), reasons[is_val], args.weight_power)
    if args.stripe_jobs and not args.evaluate_only:
        extra = stripe_jobs(args.stripe_jobs, args.seed)
        weight = train.weights[train.labels == REASONS.index("noise")][0]  # the noise kind's weight
        train = TrainingArrays(np.concatenate([train.images, extra.images]), np.concatenate([train.features, extra.features]),
                               np.concatenate([train.labels, extra.labels]), np.concatenate([train.groups, extra.groups]),
                               np.concatenate([train.weights, extra.weights * weight]), n_labels=len(REASONS))
    print(f"reason model: {len(train)} training and {len(val)} validation junk classes; per reason (train):",
          dict(zip(REASONS, np.bincount(train.labels.astype(int), minlength=len(REASONS)).tolist())), flush=True)

    staging = args.staging or args.model / ".reasons_training"
    config = TrainConfig(epochs=args.epochs, batch_size=64, seed=args.seed % 2**31, verbose=2, patience=4,
                         learning_rate=args.learning_rate)
    started = time.perf_counter()
    if args.evaluate_only:
        import keras

        keras_model = keras.saving.load_model(args.evaluate_only, compile=False, safe_mode=True)
        seconds = None
    else:
        init = args.model / f"{args.init_from}.keras" if args.init_from else None
        keras_model = train_reasons(train, val, NetworkConfig.from_dict(card.network), config, staging,
                                    make_strategy(None), init_from=init)
        seconds = round(time.perf_counter() - started, 1)

    model = ReasonModel.of_keras(keras_model)
    model.min_probability = confidence_threshold(model.predict(val.images, val.features), val.labels)
    print(f"named at probability >= {model.min_probability} (>= 95% right on the validation junk)", flush=True)
    test = np.load(args.lab / "test.npz")
    test_reasons, _ = corpus_reasons(args.lab, 1)
    junk = test_reasons >= 0
    probabilities = model.predict(test["images"][junk].astype(np.float32), test["features"][junk])
    simulated = reason_metrics(test_reasons[junk], probabilities.argmax(axis=1))
    simulated["confident"] = confident_calls(probabilities, test_reasons[junk], model.min_probability)
    real = real_reason_agreement(model, load_real_sets(args.shared, args.extra), junk_kinds_by_eye(args.labels))
    print("real (by eye):", json.dumps({k: real["pooled"][k] for k in ("classes", "accuracy", "baseline_most_common",
                                                                       "confident")}))
    for reason, m in real["pooled"]["per_reason"].items():
        print(f"  real {reason:22s} support {m['support']:3d} predicted {m['predicted']:3d} "
              f"recall {m['recall']:.2f} precision {m['precision']:.2f}")
    print("simulated hold-out:", json.dumps({k: simulated[k] for k in ("classes", "accuracy", "confident")}))
    for reason, m in simulated["per_reason"].items():
        print(f"  sim  {reason:22s} support {m['support']:4d} recall {m['recall']:.2f} precision {m['precision']:.2f}")
    record = add_to_model(keras_model, card, args.model, {
        "min_probability": model.min_probability,
        "real_by_eye": real, "simulated_holdout": simulated, "training_seconds": seconds,
        "train": config.to_dict(), "network": card.network, "init_from": args.init_from or None,
        "weight_power": args.weight_power, "stripe_jobs": 0 if args.evaluate_only else args.stripe_jobs,
        "command": " ".join(["python scripts/train_reason_model.py", *sys.argv[1:]])})
    card.save(args.model)
    shutil.rmtree(staging, ignore_errors=True)
    print("wrote", {k: v for k, v in record.items() if k == "files"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
