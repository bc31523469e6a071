#!/usr/bin/env python3
"""Regenerate the earlier corpus (models 0.1.0-0.2.0's recipe) with one command (see docs/corpus.md); the
shipped model's lab-like corpus is ``scripts/make_lab_corpus.py``'s.

    python scripts/make_corpus.py                       # everything, with the committed seeds
    python scripts/make_corpus.py --summary-only        # just count what is there

1. ``--sim-jobs`` small simulated Class2D projects (``simulate.class_average_jobs``: lab-like class averages
   written as RELION projects, labelled by what a class shows; about 1 s a job) in ``corpus_cache/sim<N>`` (not
   committed). The first N jobs of a larger corpus are the same as a smaller one's (per-job seeds come from
   one generator). Up to commit 8db6267 this was the fast producer of models 0.1.0-0.2.0 (docs/corpus.md).
2. Real ``relion_refine`` 3.1.3 Class2D projects in ``corpus/relion`` (``make_relion_corpus.py``;
   existing projects are skipped, so this only fills gaps; median 41 s per project on 2 cores, up to ~4 min; docs/corpus.md).
3. Real ``relion_refine`` 3.1.3 Class3D projects in ``corpus/relion3d``
   (``make_relion_class3d_corpus.py``, same skipping).

Everything is deterministic given the seeds; the committed projects record their own parameters in
``ground_truth/simulation.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from cryodiscovery_dev import corpus_paths

REPO = Path(__file__).resolve().parents[1]

#: The committed real projects, as (first seed, count). 2D seeds 1000-1039 are the first recipe,
#: 1040 on the cheaper lab-like one (make_relion_corpus.CHEAP_FROM_SEED), 1100 on add atomic
#: models (ATOMIC_FROM_SEED); 1050-1099 are unused. 3D: two series of nine.
RELION2D_SERIES = [(1000, 50), (1100, 200)]
RELION3D_SERIES = [(3000, 9), (3100, 9)]


def _series(text: str) -> tuple[int, int]:
    first, count = text.split(":")
    return int(first), int(count)


def summary(sim_dir: Path) -> dict:
    """Labelled classes per source (from the label files, no images read)."""
    import pandas as pd

    out: dict = {}
    if (sim_dir / "manifest.csv").is_file():
        table = pd.read_csv(sim_dir / "manifest.csv")
        out["fast_producer"] = {"jobs": len(table), "classes": int(table["n_classes"].sum()),
                                "good": int(table["n_good"].sum())}
    for name, projects in (("relion_class2d", corpus_paths.relion_class2d_projects()),
                           ("relion_class3d", corpus_paths.relion_class3d_projects()),
                           ("example", [corpus_paths.EXAMPLE_PROJECT])):
        labels = [pd.read_csv(p / "ground_truth" / "class_labels.csv") for p in projects
                  if (p / "ground_truth" / "class_labels.csv").is_file()]
        if labels:
            table = pd.concat(labels)
            out[name] = {"projects": len(labels), "classes": len(table), "good": int(table["label"].sum())}
    out["total_classes"] = sum(v["classes"] for v in out.values() if isinstance(v, dict))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20261122, help="fast producer seed")
    parser.add_argument("--sim-jobs", type=int, default=320)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--relion2d", type=_series, nargs="*", default=RELION2D_SERIES,
                        help="real Class2D seed series FIRST:COUNT (default: the committed ones)")
    parser.add_argument("--relion3d", type=_series, nargs="*", default=RELION3D_SERIES,
                        help="real Class3D seed series FIRST:COUNT (default: the committed ones)")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    sim_dir = corpus_paths.sim_corpus(args.sim_jobs)
    if not args.summary_only:
        from cryodiscovery_dev.simulate.class_average_jobs import make_corpus

        if not (sim_dir / "manifest.csv").is_file():
            make_corpus(sim_dir, args.sim_jobs, args.seed, workers=args.workers)
        py = sys.executable
        for first, count in args.relion2d:
            subprocess.run([py, str(REPO / "scripts" / "make_relion_corpus.py"), "--out",
                            str(corpus_paths.RELION_CLASS2D), "--n", str(count), "--seed", str(first)], check=True)
        for first, count in args.relion3d:
            subprocess.run([py, str(REPO / "scripts" / "make_relion_class3d_corpus.py"), "--out",
                            str(corpus_paths.RELION_CLASS3D), "--n", str(count), "--seed", str(first)], check=True)
    print(json.dumps(summary(sim_dir), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
