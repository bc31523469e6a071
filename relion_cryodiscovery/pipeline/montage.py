"""The class montage: every class average with its score, decision and reason, as one PNG.

The External job and ``score`` write it into their output directory; ``evaluate`` and the corpus
scripts use it too. The reason under a class is wrapped over up to :data:`REASON_LINES` lines, so it
shows whole. It is drawn with Pillow (pixels and text straight onto an 8-bit RGB canvas) rather than
Matplotlib: text is what a montage is mostly made of, and Matplotlib's text artists took ~1 s
for 200 classes and ~3 s for 1,000 in the job, Pillow's ``ImageDraw.text`` a few tens of ms
(``docs/benchmarks.md``). The font is the DejaVu Sans that Matplotlib ships (found without
importing Matplotlib), or Pillow's own default font where that is missing.

Colours are from the Okabe-Ito colour-blind safe palette: a blue frame and "KEEP" for selected
classes, an orange frame and "REJECT" for rejected ones; the decision is also written in text.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import ndimage

BLUE = "#0072B2"
ORANGE = "#E69F00"
_BLUE_RGB = np.array([0x00, 0x72, 0xB2], dtype=np.uint8)
_ORANGE_RGB = np.array([0xE6, 0x9F, 0x00], dtype=np.uint8)
_REJECT_TEXT = "#A35F00"  # darker orange: readable on white

#: Montage geometry in pixels.
TILE = 84
FRAME = 3
#: Lines of reason text under a tile (the selection's longest reasons need four at this width).
REASON_LINES = 4
#: Vertical pitch of the reason lines, and where the first starts below the tile.
REASON_PITCH = 9
REASON_TOP = 13
TEXT_BAND = REASON_TOP + REASON_LINES * REASON_PITCH + 1
TITLE_BAND = 28
#: The narrowest montage: wide enough for the title's warning and counts when a job has few classes.
MIN_WIDTH = 5 * TILE
#: Font sizes in pixels: tile labels, "no image", the title.
LABEL_PX = 8
NOTE_PX = 10
TITLE_PX = 12


def montage_layout(n_classes: int, ncols: int | None = None) -> tuple[int, int]:
    """(rows, columns) of the class montage: 10 columns by default, fewer for few classes."""
    cols = max(1, ncols or min(10, max(n_classes, 1)))
    return max(1, math.ceil(n_classes / cols)), cols


def montage_size(n_classes: int, ncols: int | None = None) -> tuple[int, int]:
    """(width, height) in pixels of the montage PNG for ``n_classes``."""
    rows, cols = montage_layout(n_classes, ncols)
    return max(cols * TILE, MIN_WIDTH), TITLE_BAND + rows * (TILE + TEXT_BAND)


def tile_origin(index: int, cols: int) -> tuple[int, int]:
    """(x, y) in pixels of the top left corner of tile ``index`` (its frame) in the montage."""
    r, c = divmod(index, cols)
    return c * TILE, TITLE_BAND + r * (TILE + TEXT_BAND)


def display_tile(image: np.ndarray, size: int) -> np.ndarray | None:
    """Image scaled to ``size`` x ``size`` in [0, 1] (1-99 percentile stretch); None if blank."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3:  # a 3D map: show its projection along z
        img = img.sum(axis=0)
    if img.ndim != 2 or img.size == 0 or not np.isfinite(img).all():
        return None
    lo, hi = np.percentile(img, (1, 99))
    if not hi > lo:
        return None
    if img.shape != (size, size):
        img = ndimage.zoom(img, (size / img.shape[0], size / img.shape[1]), order=1, prefilter=False)
        img = img[:size, :size]
        if img.shape != (size, size):
            img = np.pad(img, ((0, size - img.shape[0]), (0, size - img.shape[1])), mode="edge")
    return np.clip((img - lo) / (hi - lo), 0.0, 1.0)


@functools.lru_cache(maxsize=None)
def _font(size: int, bold: bool = False):
    """DejaVu Sans (bold) at ``size`` px from Matplotlib's data directory, else Pillow's default."""
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")  # locates the package without importing it
    if spec is not None and spec.submodule_search_locations:
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        path = Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf" / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _fit(text: str, font, width: float) -> str:
    """``text``, cut with an ellipsis so that it is at most ``width`` pixels wide."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def wrap_text(text: str, font, width: float, max_lines: int = REASON_LINES) -> list[str]:
    """``text`` broken at spaces (inside a word only when the word alone is too wide) into lines at
    most ``width`` pixels wide; beyond ``max_lines`` the last line ends with an ellipsis."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > width:  # a word wider than a line: split it
            cut = len(word) - 1
            while cut > 1 and font.getlength(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [_fit(" ".join(lines[max_lines - 1:]), font, width)]
    return lines


class MontageTiles:
    """The class images of a montage, scaled and stretched: the part drawn before the scores exist.

    The External job builds this while the model worker loads and predicts, then :meth:`draw`
    adds frames and text. ``images`` is (K, N, N) (or (K, N, N, N) maps, shown as z projections).
    """

    def __init__(self, images: np.ndarray, ncols: int | None = None):
        images = np.asarray(images)
        self.ncols = ncols
        inner = TILE - 2 * FRAME
        #: (inner, inner) uint8 grey tiles; None where the image is blank (NaN or constant).
        self.tiles: list[np.ndarray | None] = []
        for image in images:
            tile = display_tile(image, inner)
            self.tiles.append(None if tile is None else (tile * 255 + 0.5).astype(np.uint8))

    def draw(
        self,
        class_numbers: Sequence[int],
        scores: Sequence[float],
        selected: Sequence[int],
        reasons: Sequence[str],
        out_png: str | Path,
        title: str = "CryoDiscovery class selection",
    ) -> Path:
        """Frames, class number, score, decision and reason per tile, and the title; the PNG."""
        from PIL import Image, ImageDraw

        k = len(class_numbers)
        if len(self.tiles) != k or not (len(scores) == len(selected) == len(reasons) == k):
            raise ValueError(f"montage needs one image, score, decision and reason per class ({k} classes)")
        _, cols = montage_layout(k, self.ncols)
        width, height = montage_size(k, self.ncols)
        origins = [tile_origin(i, cols) for i in range(k)]
        inner = TILE - 2 * FRAME
        canvas = np.full((height, width, 3), 255, dtype=np.uint8)
        for i, (x0, y0) in enumerate(origins):
            canvas[y0:y0 + TILE, x0:x0 + TILE] = _BLUE_RGB if int(selected[i]) else _ORANGE_RGB
            tile = self.tiles[i]
            patch = canvas[y0 + FRAME:y0 + FRAME + inner, x0 + FRAME:x0 + FRAME + inner]
            patch[:] = 237 if tile is None else tile[:, :, None]
        image = Image.fromarray(canvas, mode="RGB")
        pen = ImageDraw.Draw(image)
        label, bold, note = _font(LABEL_PX), _font(LABEL_PX, bold=True), _font(NOTE_PX)
        for i, (x0, y0) in enumerate(origins):
            keep = bool(int(selected[i]))
            centre = x0 + TILE / 2
            if self.tiles[i] is None:
                pen.text((centre, y0 + TILE / 2), "no image", fill="#444444", font=note, anchor="mm")
            score = float(scores[i])
            score_text = f"{score:.2f}" if np.isfinite(score) else "n/a"
            headline = f"#{int(class_numbers[i])} {score_text} {'KEEP' if keep else 'REJECT'}"
            pen.text((centre, y0 + TILE + 2), _fit(headline, bold, TILE - 2), fill=BLUE if keep else _REJECT_TEXT,
                     font=bold, anchor="mt")
            for n, line in enumerate(wrap_text(str(reasons[i] or ""), label, TILE - 2)):
                pen.text((centre, y0 + TILE + REASON_TOP + n * REASON_PITCH), line, fill="#333333", font=label,
                         anchor="mt")
        n_keep = int(np.sum(np.asarray(selected).astype(int) > 0))
        legend = " (blue = keep, orange = reject)" if width >= 600 else ""
        heading = _font(TITLE_PX, bold=True)
        pen.text((4, 7), _fit(f"{title}: {n_keep}/{k} selected{legend}", heading, width - 8), fill="black",
                 font=heading, anchor="lt")
        out = Path(out_png)
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(out, format="PNG", compress_level=1)
        return out


def class_montage(
    images: np.ndarray,
    class_numbers: Sequence[int],
    scores: Sequence[float],
    selected: Sequence[int],
    reasons: Sequence[str],
    out_png: str | Path,
    title: str = "CryoDiscovery class selection",
    ncols: int | None = None,
) -> Path:
    """Grid of all class averages annotated with class number, score, decision and reason.

    Selected tiles get a blue frame and "KEEP", rejected ones an orange frame and "REJECT".
    NaN or constant images are drawn blank with "no image". ``images`` is (K, N, N) (or
    (K, N, N, N) maps, shown as z projections). The PNG is exactly :func:`montage_size` pixels.
    """
    return MontageTiles(images, ncols).draw(class_numbers, scores, selected, reasons, out_png, title)
