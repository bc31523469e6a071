#!/usr/bin/env python3
"""Write a model's strictness operating points (``extra["decision"]`` of its card).

    python scripts/set_operating_points.py --model models/default --lab corpus_cache/lab --gap 2.0 --start 0.95 \
        --balanced_detail 0.25 --balanced_centre 0.4 --strict_detail 0.15 --strict_centre 0.3 \
        --blob_detail 0.15 --blob_centre 0.2 --centre_detail 0.1 --lower_gap 2.0 --lower_below 0.5 --lower_from 0.2 \
        --model_version 0.8.1

* ``lenient``: the threshold at which at most 2% of the good validation classes are lost
  (:func:`relion_cryodiscovery.model.calibration.choose_threshold`, the validation jobs named in the card);
* ``balanced`` (the default): the card's calibrated threshold (at most 5% lost) and the job-relative bar
  (:func:`relion_cryodiscovery.selection.relative_bar`) ``--gap`` logits below the mean logit of the job's
  best classes, in jobs whose best classes score at least ``--start`` on average, for classes coarser than
  the best by ``--balanced_detail`` (log10 k D) or emptier at the centre by ``--balanced_centre`` and coarser by
  ``--centre_detail`` (a hollow or ring-like view as sharp as the best is not dropped);
* ``strict``: the same bar with the margins ``--strict_detail`` and ``--strict_centre``;
* both bars also drop a featureless blob: a class coarser by ``--blob_detail`` *and* denser at the centre by
  ``--blob_centre`` than the best classes;
* ``lenient`` and ``balanced`` lower the threshold in a weak job (:func:`relion_cryodiscovery.selection.lowered_bar`):
  in a job whose best classes score in [``--lower_from``, ``--lower_below``) on average, classes within
  ``--lower_gap`` logits of them that look like them (balanced's margins) are kept (``--lower_gap 0``: none).

A margin <= 0 leaves that measure out. The figures each point reaches are measured by
``scripts/evaluate_model.py`` (real sets first).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from cryodiscovery_dev import corpus_paths

REPO = Path(__file__).resolve().parents[1]
from relion_cryodiscovery.model import calibration  # noqa: E402


def margin(value: float) -> float | None:
    """A bar margin from the command line: <= 0 leaves the measure out."""
    return value if value > 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--lab", type=Path, default=corpus_paths.LAB_CORPUS)
    parser.add_argument("--lenient_fnr", type=float, default=calibration.LENIENT_FNR)
    parser.add_argument("--gap", type=float, default=calibration.BAR_GAP, help="the job-relative bar's gap in logits")
    parser.add_argument("--start", type=float, default=calibration.BAR_FROM,
                        help="the bar applies to jobs whose best classes' mean calibrated score is at least this")
    for level in ("balanced", "strict"):
        parser.add_argument(f"--{level}_detail", type=float,
                            default=getattr(calibration, f"{level.upper()}_DETAIL"),
                            help=f"{level}'s bar drops classes this much coarser (log10 k D) than the best classes")
        parser.add_argument(f"--{level}_centre", type=float,
                            default=getattr(calibration, f"{level.upper()}_CENTRE"),
                            help=f"... or this much emptier at the centre (ring_1)")
    parser.add_argument("--blob_detail", type=float, default=calibration.BLOB_DETAIL,
                        help="the bars also drop classes this much coarser (log10 k D) than the best classes ...")
    parser.add_argument("--blob_centre", type=float, default=calibration.BLOB_CENTRE,
                        help="... and this much denser at the centre (ring_1) together (a featureless blob; <= 0: not)")
    parser.add_argument("--centre_detail", type=float, default=calibration.CENTRE_DETAIL,
                        help="the centre measure drops only classes also this much coarser (log10 k D) than the best "
                             "classes (<= 0: every class)")
    parser.add_argument("--model_version", default=None,
                        help="write this model version into the card (the operating points are part of the model)")
    parser.add_argument("--lower_gap", type=float, default=calibration.LOWER_GAP,
                        help="a weak job's lowered bar: this many logits below its best classes (<= 0: none)")
    parser.add_argument("--lower_below", type=float, default=calibration.LOWER_BELOW,
                        help="... in jobs whose best classes' mean score is below this")
    parser.add_argument("--lower_from", type=float, default=calibration.LOWER_FROM,
                        help="... and at least this")
    args = parser.parse_args()

    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.ensemble import BoostedEnsemble

    card = ModelCard.load(args.model)
    data = np.load(args.lab / "train.npz")
    val = np.isin(data["groups"], card.training_data["val_jobs"])
    ensemble = BoostedEnsemble.load(args.model)
    scores = ensemble.predict(data["images"][val].astype(np.float32), data["features"][val]).calibrated
    labels = data["labels"][val]
    blob = (margin(args.blob_detail), margin(args.blob_centre))
    card.extra["decision"] = calibration.operating_points(
        scores, labels, card.threshold, card.threshold_rule, args.lenient_fnr, args.gap, args.start,
        balanced=calibration.Looks(margin(args.balanced_detail), margin(args.balanced_centre), *blob,
                                   margin(args.centre_detail)),
        strict=calibration.Looks(margin(args.strict_detail), margin(args.strict_centre), *blob,
                                 margin(args.centre_detail)),
        lower=(margin(args.lower_gap), args.lower_below, args.lower_from))
    card.extra["decision"]["command"] = " ".join(["python scripts/set_operating_points.py", *sys.argv[1:]])
    if args.model_version:
        card.model_version = args.model_version
    card.save(args.model)
    print({k: v["min_score"] for k, v in card.extra["decision"].items() if isinstance(v, dict)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
