#!/usr/bin/env python3
"""Would fine-tuning the ensemble on real labelled classes help on real classes it has not seen? (issue #20)

    python scripts/research/real_finetune_loso.py --out corpus_cache/real_finetune_loso.json

Leave one **family** of real sets out at a time (sets of the same specimen or source are one family, so
no fold sees a relative of what it is judged on): fine-tune the shipped ensemble
(:func:`relion_cryodiscovery.training.boosting.train_boosted_ensemble` with ``init_from``, the boosted d1 -> d2
-> d3 recipe) on the other families' classes, up-weighted, beside a sample of the lab corpus's training
classes; recalibrate on the corpus's validation jobs as the shipped model was; then judge the held-out
family at the default operating point beside the shipped model. The figures pool every fold's held-out
classes, so each real class is judged by a model that never saw it or its relatives.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from cryodiscovery_dev import corpus_paths

REPO = Path(__file__).resolve().parents[2]

#: Families of real sets (a set's name starts with one of these prefixes).
FAMILIES = {
    "t20s": ("t20s_cryosparc", "cryosparc_magnification"),
    "betagal": ("relion4_tutorial", "xtremed_relion3"),
    "magellon_graded": ("magellon_graded",),
    "magellon_refs": ("magellon_ribosome", "magellon_cage"),
    "py2rely": ("py2rely",),
    "himena": ("himena",),
    "slicem": ("slicem",),
    "empiar10880": ("cryosparc_empiar10880",),
}


def family(name: str) -> str:
    for key, prefixes in FAMILIES.items():
        if name.startswith(prefixes):
            return key
    raise KeyError(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus_paths.add_model_and_data_args(parser)
    parser.add_argument("--sim_classes", type=int, default=3000)
    parser.add_argument("--real_weight", type=float, default=4.0)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--folds", nargs="*", default=None, help="only these families (default: all)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from relion_cryodiscovery.model.calibration import operating_points
    from relion_cryodiscovery.model.ensemble import BoostedEnsemble
    from relion_cryodiscovery.model.network import NetworkConfig
    from relion_cryodiscovery.training.boosting import BoostingConfig, train_boosted_ensemble
    from relion_cryodiscovery.training.trainer import TrainConfig, TrainingArrays
    from cryodiscovery_dev.judging import judged as judge, real_inputs
    from cryodiscovery_dev.lab_corpus import concat, lab_arrays

    shipped = BoostedEnsemble.load(args.model)
    card = shipped.card
    real = [{**s, "family": family(s["name"])} for s in real_inputs(args.shared, args.extra)]
    corpus = lab_arrays(args.lab / "train.npz")
    is_val = np.isin(corpus.groups, card.training_data["val_jobs"])
    val = corpus.subset(np.flatnonzero(is_val))
    rng = np.random.default_rng(20261207)
    sim = corpus.subset(np.sort(rng.choice(np.flatnonzero(~is_val), size=args.sim_classes, replace=False)))
    sim = replace(sim, weights=np.ones(len(sim), np.float32))

    def judged(ensemble, point, s) -> dict:
        return judge(ensemble, point, s["images"], s["features"], s["labels"])

    results = {"args": {k: str(v) for k, v in vars(args).items()}, "folds": {}}
    folds = args.folds or list(FAMILIES)
    for held in folds:
        train_sets = [s for s in real if s["family"] != held]
        test_sets = [s for s in real if s["family"] == held]
        if not test_sets:
            continue
        parts = [TrainingArrays(s["images"], s["features"], s["labels"], np.full(len(s["labels"]), s["name"]),
                 np.full(len(s["labels"]), args.real_weight, np.float32)) for s in train_sets]
        train = concat([sim, *parts])
        config = BoostingConfig(
            network=NetworkConfig(**card.network),
            train=TrainConfig(epochs=args.epochs, patience=3, verbose=0, seed=7),
            fine_tune_learning_rate=args.learning_rate, max_false_negative_rate=0.05, threshold_cap=0.5,
            model_version=f"loso-{held}")
        with tempfile.TemporaryDirectory() as out:
            tuned = train_boosted_ensemble(train, val, config, None, out, init_from=shipped)
            val_scores = tuned.predict(val.images, val.features).calibrated
            point = operating_points(val_scores, val.labels, tuned.card.threshold, tuned.card.threshold_rule)["balanced"]
            fold = {"threshold": float(tuned.card.threshold), "sets": {}}
            for s in test_sets:
                fold["sets"][s["name"]] = {"tuned": judged(tuned, point, s),
                                           "shipped": judged(shipped, card.operating_point("balanced"), s)}
                t, b = fold["sets"][s["name"]]["tuned"], fold["sets"][s["name"]]["shipped"]
                print(f"{held:16s} {s['name']:40s} good {t['good']:3d} lost {b['lost']:2d} -> {t['lost']:2d}  junk {t['junk']:3d} "
                      f"removed {b['junk_removed']:3d} -> {t['junk_removed']:3d}", flush=True)
        results["folds"][held] = fold
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
