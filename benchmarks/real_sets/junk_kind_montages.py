#!/usr/bin/env python3
"""Montages of the rejected classes of each labelled real set, for labelling junk kinds by eye (issue #23).

    python benchmarks/real_sets/junk_kind_montages.py --out /tmp/junk_kinds

Writes, per set, ``<set>_pass1.png`` (class order, tiles captioned with the class number) and
``<set>_pass2.png`` (the seeded random order ``numpy.random.default_rng(23).permutation(n)``, tiles
captioned P0, P1, ...) plus ``<set>_pass2_order.csv`` mapping the pass-2 captions back to classes. Only the
rejected classes, each 128 px, min-max scaled; no scores, no counts (rules: docs/real_sets.md, "Junk kinds
by eye").
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage.transform import resize

from relion_cryodiscovery.evaluation.real_sets import load_real_sets

REPO = Path(__file__).resolve().parents[2]
#: The labelled real sets with rejected classes.
SETS = ("magellon_graded", "relion4_tutorial_job013_ranker", "relion4_tutorial_job008_ranker",
        "relion4_tutorial_job032_byeye", "py2rely_slab_class2d")
TILE, COLS, SEED = 128, 8, 23


def tile(image: np.ndarray) -> np.ndarray:
    """One class at TILE px, min-max scaled to 8 bits."""
    image = resize(np.asarray(image, float), (TILE, TILE), order=1, anti_aliasing=True)
    lo, hi = image.min(), image.max()
    return (255 * (image - lo) / (hi - lo if hi > lo else 1)).astype(np.uint8)


def montage(images: list[np.ndarray], captions: list[str]) -> Image.Image:
    rows = (len(images) + COLS - 1) // COLS
    canvas = Image.new("L", (COLS * (TILE + 4), rows * (TILE + 18)), 255)
    draw = ImageDraw.Draw(canvas)
    for i, (image, caption) in enumerate(zip(images, captions)):
        x, y = (i % COLS) * (TILE + 4), (i // COLS) * (TILE + 18)
        canvas.paste(Image.fromarray(tile(image)), (x, y))
        draw.text((x + 2, y + TILE + 2), caption, fill=0)
    return canvas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "real")
    parser.add_argument("--extra", type=Path, default=REPO.parent / "real_extra")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for real in load_real_sets(args.shared, args.extra):
        if real.spec.name not in SETS:
            continue
        rejected = np.flatnonzero(real.labels == 0)
        numbers = real.classes.class_numbers[rejected]
        images = [real.classes.images[i] for i in rejected]
        montage(images, [f"#{n}" for n in numbers]).save(args.out / f"{real.spec.name}_pass1.png")
        order = np.random.default_rng(SEED).permutation(len(rejected))
        montage([images[i] for i in order], [f"P{k}" for k in range(len(order))]).save(
            args.out / f"{real.spec.name}_pass2.png")
        with open(args.out / f"{real.spec.name}_pass2_order.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["caption", "class"])
            writer.writerows([f"P{k}", int(numbers[i])] for k, i in enumerate(order))
        print(real.spec.name, len(rejected), "rejected classes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
