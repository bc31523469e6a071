#!/usr/bin/env python3
"""The recorded hyper-parameter sweep behind the shipped network's depth, width and activation.

    python scripts/research/sweep.py --corpus corpus_cache/sim320 --jobs 80 --epochs 6

Trains one single model (a d1) per grid point on simulated jobs (split by structure, the same
reader and split as ``train``) and writes the table to ``docs/sweep.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
GRID = {"depth": [3, 4], "width": [16, 32], "activation": ["relu", "elu"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus_cache" / "sim320")
    parser.add_argument("--jobs", type=int, default=80, help="first N jobs of the corpus manifest")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "sweep.md")
    args = parser.parse_args()

    from relion_cryodiscovery.data.preprocess import PreprocessConfig
    from relion_cryodiscovery.training.boosting import BoostingConfig, sweep
    from relion_cryodiscovery.training.corpus import LabelledJobSource, read_labelled_job, split_by_group
    from relion_cryodiscovery.training.run import to_arrays
    from relion_cryodiscovery.training.trainer import TrainConfig

    table = pd.read_csv(args.corpus / "manifest.csv").head(args.jobs)
    sources = [LabelledJobSource(args.corpus / p / f"{job}run_it025_data.star", args.corpus / p / sel, f"s{seed}")
               for p, job, sel, seed in zip(table["project"], table["class2d_job"], table["select_job"], table["seed"])]
    jobs = [read_labelled_job(source, PreprocessConfig()) for source in sources]
    train_jobs, val_jobs, _ = split_by_group(jobs, (0.8, 0.2, 0.0), args.seed)
    train, val = to_arrays(train_jobs), to_arrays(val_jobs)
    base = BoostingConfig(train=TrainConfig(epochs=args.epochs, verbose=0, seed=args.seed))
    started = time.perf_counter()
    rows = sweep(train, val, GRID, base, out_dir=REPO / "corpus_cache" / "sweep", log=print)
    corpus = args.corpus.resolve()
    corpus = corpus.relative_to(REPO) if corpus.is_relative_to(REPO) else corpus
    args.out.write_text(render(rows, f"`python scripts/research/sweep.py --corpus {corpus} --jobs {args.jobs} --epochs {args.epochs}`; "
                               f"{len(train)} training / {len(val)} validation classes from {len(train_jobs)} / "
                               f"{len(val_jobs)} simulated jobs (split by structure); 2-core CPU; "
                               f"{time.perf_counter() - started:.0f} s in all."))
    print(json.dumps(rows, indent=1, default=str))
    return 0


def render(rows: list[dict], how: str) -> str:
    """The sweep table as Markdown, best validation loss first."""
    rows = sorted(rows, key=lambda row: row["val_loss"])
    lines = [
        "# Hyper-parameter sweep (single model d1)",
        "",
        f"Command: {how}",
        "",
        "| " + " | ".join(rows[0].keys()) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
