#!/usr/bin/env python3
"""Write a model's strictness operating points (``extra["decision"]`` of its card).

    python scripts/set_operating_points.py --model models/default --lab corpus_cache/lab --strict_gap 2.0 --strict_from 0.95 --strict_detail 0.15

* ``lenient``: the threshold at which at most 2% of the good validation classes are lost
  (:func:`relion_cryodiscovery.model.calibration.choose_threshold`, the validation jobs named in the card);
* ``balanced`` (the default): the card's calibrated threshold (at most 5% lost);
* ``strict``: ``balanced`` plus the job-relative bar (:func:`relion_cryodiscovery.selection.relative_bar`)
  ``--strict_gap`` logits below the mean logit of the job's best classes, in jobs whose best classes score
  at least ``--strict_from`` on average.

The figures each point reaches are measured by ``scripts/evaluate_model.py`` (real sets first).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryodiscovery_dev import corpus_paths  # noqa: E402
from relion_cryodiscovery.model import calibration  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--lab", type=Path, default=corpus_paths.LAB_CORPUS)
    parser.add_argument("--lenient_fnr", type=float, default=calibration.LENIENT_FNR)
    parser.add_argument("--strict_gap", type=float, default=calibration.STRICT_GAP)
    parser.add_argument("--strict_from", type=float, default=calibration.STRICT_FROM,
                        help="the bar applies to jobs whose best classes' mean calibrated score is at least this")
    parser.add_argument("--strict_detail", type=float, default=calibration.STRICT_DETAIL,
                        help="the bar drops only classes this much coarser (log10 k D) than the best classes; <= 0: all")
    args = parser.parse_args()

    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.ensemble import BoostedEnsemble

    card = ModelCard.load(args.model)
    data = np.load(args.lab / "train.npz")
    val = np.isin(data["groups"], card.training_data["val_jobs"])
    ensemble = BoostedEnsemble.load(args.model)
    scores = ensemble.predict(data["images"][val].astype(np.float32), data["features"][val]).calibrated
    labels = data["labels"][val]
    card.extra["decision"] = calibration.operating_points(
        scores, labels, card.threshold, card.threshold_rule, args.lenient_fnr, args.strict_gap, args.strict_from,
        args.strict_detail if args.strict_detail > 0 else None)
    card.extra["decision"]["command"] = " ".join(["python scripts/set_operating_points.py", *sys.argv[1:]])
    card.save(args.model)
    print({k: v["min_score"] for k, v in card.extra["decision"].items() if isinstance(v, dict)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
