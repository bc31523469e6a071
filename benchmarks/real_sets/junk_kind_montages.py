#!/usr/bin/env python3
"""Montages of the rejected classes of each labelled real set, for labelling junk kinds by eye (issue #23).

    python benchmarks/real_sets/junk_kind_montages.py --out /tmp/junk_kinds
    python benchmarks/real_sets/junk_kind_montages.py --out /tmp/junk_kinds2 --sets second

``--sets first`` (the default) draws the five sets labelled first, exactly as before; ``--sets second`` the
four sets of the second search (xtreme-d job009 / job023, SLICEM, EMPIAR-10880), whose montages are split
into pages of at most 48 tiles (``<set>_pass1_page1.png``, ...) and whose EMPIAR-10880 tiles are the central
170 of 234 px (as in that set's good/bad labelling); ``--sets`` also takes set names, comma-separated.
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
#: The four sets of the second search (issue #20), labelled later under the rules added for them.
SECOND = ("xtremed_relion3_job009_select", "xtremed_relion3_job023_select", "slicem_mixture_k100_byeye",
          "cryosparc_empiar10880_k100_byeye")
GROUPS = {"first": SETS, "second": SECOND}
#: Central crop (px) shown instead of the whole tile.
CROP = {"cryosparc_empiar10880_k100_byeye": 170}
#: Tiles per page for the second search's sets (8 x 6); the first sets are drawn on one page each, as before.
PAGE = 48
TILE, COLS, SEED = 128, 8, 23


def central(image: np.ndarray, size: int | None) -> np.ndarray:
    """The central ``size`` x ``size`` px of a class (the whole class if ``size`` is None)."""
    if size is None:
        return image
    y, x = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[y:y + size, x:x + size]


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


def save_pages(images: list[np.ndarray], captions: list[str], stem: Path, page: int | None) -> None:
    """``stem.png`` (one page), or ``stem_page1.png``, ... of at most ``page`` tiles each."""
    if page is None:
        montage(images, captions).save(stem.with_suffix(".png"))
        return
    for k, start in enumerate(range(0, len(images), page), start=1):
        montage(images[start:start + page], captions[start:start + page]).save(
            stem.with_name(f"{stem.name}_page{k}.png"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "real")
    parser.add_argument("--extra", type=Path, default=REPO.parent / "real_extra")
    parser.add_argument("--sets", default="first",
                        help="'first' (the five sets labelled first; default), 'second' (the second search's four), "
                             "or comma-separated set names")
    args = parser.parse_args()
    wanted = GROUPS.get(args.sets) or tuple(n.strip() for n in args.sets.split(",") if n.strip())
    args.out.mkdir(parents=True, exist_ok=True)
    for real in load_real_sets(args.shared, args.extra):
        if real.spec.name not in wanted:
            continue
        page = None if real.spec.name in SETS else PAGE
        rejected = np.flatnonzero(real.labels == 0)
        numbers = real.classes.class_numbers[rejected]
        images = [central(real.classes.images[i], CROP.get(real.spec.name)) for i in rejected]
        save_pages(images, [f"#{n}" for n in numbers], args.out / f"{real.spec.name}_pass1", page)
        order = np.random.default_rng(SEED).permutation(len(rejected))
        save_pages([images[i] for i in order], [f"P{k}" for k in range(len(order))],
                   args.out / f"{real.spec.name}_pass2", page)
        with open(args.out / f"{real.spec.name}_pass2_order.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["caption", "class"])
            writer.writerows([f"P{k}", int(numbers[i])] for k, i in enumerate(order))
        print(real.spec.name, len(rejected), "rejected classes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
