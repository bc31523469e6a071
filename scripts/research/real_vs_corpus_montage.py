#!/usr/bin/env python3
"""Real class averages beside lab-like corpus classes, as PNG montages at the same tile size.

    python scripts/research/real_vs_corpus_montage.py --lab corpus_cache/lab --o docs/images

Writes ``real_classes.png`` (classes from ``../shared/real`` and ``../real_extra``) and
``corpus_classes.png`` (classes of the lab-like jobs whose stacks ``make_lab_corpus.py --stacks``
kept, good and bad mixed, in random order), each a grid of ``--tile`` px tiles scaled per tile
from min to max like RELION's display, with no labels, so the two can be compared by eye; and
``corpus_classes_labelled.png`` with each corpus tile's kind, particle count and label.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[2]


def tile(image: np.ndarray, size: int) -> Image.Image:
    image = np.asarray(image, np.float64)
    scaled = (image - image.min()) / max(np.ptp(image), 1e-12) * 255
    return Image.fromarray(scaled.astype(np.uint8)).resize((size, size), Image.BILINEAR)


def grid(tiles: list[Image.Image], columns: int, gap: int = 4) -> Image.Image:
    size = tiles[0].size[0]
    rows = (len(tiles) + columns - 1) // columns
    out = Image.new("L", (columns * (size + gap) + gap, rows * (size + gap) + gap), 255)
    for i, t in enumerate(tiles):
        out.paste(t, (gap + (i % columns) * (size + gap), gap + (i // columns) * (size + gap)))
    return out


def labelled_grid(images: list[np.ndarray], notes: list[str], size: int, columns: int = 8) -> Image.Image:
    """Tiles with their note written in the corner (green when the note ends in "good")."""
    out = Image.new("RGB", (columns * (size + 4) + 4, ((len(images) + columns - 1) // columns) * (size + 4) + 4),
                    (255, 255, 255))
    for i, (image, note) in enumerate(zip(images, notes)):
        t = tile(image, size).convert("RGB")
        ImageDraw.Draw(t).text((2, 2), note, fill=(0, 255, 0) if note.endswith("good") else (255, 80, 80))
        out.paste(t, (4 + (i % columns) * (size + 4), 4 + (i // columns) * (size + 4)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", type=Path, default=REPO / "corpus_cache" / "lab")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "real")
    parser.add_argument("--extra", type=Path, default=REPO.parent / "real_extra")
    parser.add_argument("--o", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--n", type=int, default=40, help="tiles per montage")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from relion_cryodiscovery.evaluation.real_sets import load_real_sets

    rng = np.random.default_rng(args.seed)
    real = []
    for s in load_real_sets(args.shared, args.extra):
        picks = rng.choice(len(s.classes.images), size=min(6, len(s.classes.images)), replace=False)
        real += [s.classes.images[i] for i in picks]
    real = [real[i] for i in rng.permutation(len(real))[: args.n]]
    table = pd.read_csv(args.lab / "classes.csv")
    corpus, notes = [], []
    for stack_path in sorted(args.lab.glob("stack_lab*.npy")):
        job = stack_path.stem.removeprefix("stack_")
        stack = np.load(stack_path)
        rows = table[table.job == job].reset_index(drop=True)
        for i in rng.choice(len(stack), size=min(4, len(stack)), replace=False):
            corpus.append(stack[i])
            r = rows.iloc[i]
            notes.append(f"{r.kind} n={r.n_particles} {'good' if r.good else 'bad'}")
    order = rng.permutation(len(corpus))[: args.n]
    args.o.mkdir(parents=True, exist_ok=True)
    grid([tile(x, args.tile) for x in real], 8).save(args.o / "real_classes.png")
    grid([tile(corpus[i], args.tile) for i in order], 8).save(args.o / "corpus_classes.png")
    labelled_grid([corpus[i] for i in order], [notes[i] for i in order], args.tile).save(args.o / "corpus_classes_labelled.png")
    print(f"wrote {args.o}/real_classes.png ({len(real)} tiles), corpus_classes.png and corpus_classes_labelled.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
