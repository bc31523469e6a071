#!/usr/bin/env python3
"""Montages of real corpus projects' class averages with their ground-truth labels, to check labels by eye.

    python scripts/research/label_montage.py corpus/relion/relion1000 corpus/relion/relion1041 --out docs/images

Each tile shows the class number, its purity (fraction of true particles) as the score, KEEP for
a class labelled good and REJECT for bad, and the particle counts behind the label.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from relion_cryodiscovery.pipeline.montage import class_montage
from relion_cryodiscovery.relion.job import locate_job, read_job
from relion_cryodiscovery.training.corpus import discover_project


def label_montage(project: Path, out_png: Path) -> Path:
    """One montage of a project's (first) labelled job."""
    source = discover_project(project)[0]
    classes = read_job(locate_job(source.job)).classes
    labels = pd.read_csv(project / "ground_truth" / "class_labels.csv").set_index("class_number")
    numbers = list(range(1, classes.n_classes + 1))
    reasons = [f"{int(labels.n_good_particles[k])}/{int(labels.n_particles[k])} true" for k in numbers]
    return class_montage(classes.images, numbers, [float(labels.purity[k]) for k in numbers],
                         [int(labels.label[k]) for k in numbers], reasons, out_png,
                         title=f"{project.name}: ground-truth labels (score = purity)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for project in args.projects:
        print(label_montage(project, args.out / f"labels_{project.name}.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
