"""The class montage: every class average with its score, decision and reason, as one PNG.

The External job and ``score`` write it into their output directory; ``evaluate`` and the corpus
scripts use it too. A 2D class is one view; a 3D class is three, side by side in one wider tile: the
map's projections along z, y and x (each stretched for display on its own, as ``relion_display`` shows
a map's projections), so a Class3D job can be judged by eye. The reason under a class is wrapped over
up to :data:`REASON_LINES` lines, so it shows whole. It is drawn with Pillow (pixels and text straight
onto an 8-bit RGB canvas) rather than Matplotlib: text is what a montage is mostly made of, and
Matplotlib's text artists took ~1 s for 200 classes and ~3 s for 1,000 in the job, Pillow's
``ImageDraw.text`` a few tens of ms (``docs/benchmarks.md``). The font is the DejaVu Sans that
Matplotlib ships (found without importing Matplotlib), or Pillow's own default font where that is
missing.

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
#: Side of one view inside its frame.
INNER = TILE - 2 * FRAME
#: Views per 3D class: its projections along z, y and x (labelled so in their corners).
PROJECTION_AXES = ("z", "y", "x")
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


def tile_width(panels: int = 1) -> int:
    """Width in pixels of one class's tile (its frame) holding ``panels`` views side by side, each framed:
    :data:`TILE` for one view (a 2D class), wider for the three projections of a 3D class."""
    return panels * (TILE - FRAME) + FRAME


def panel_left(panel: int) -> int:
    """x offset in pixels of view ``panel`` inside its tile (past the frame and the views before it)."""
    return FRAME + panel * (INNER + FRAME)


def montage_layout(n_classes: int, ncols: int | None = None, panels: int = 1) -> tuple[int, int]:
    """(rows, columns) of the class montage: 10 one-view tiles a row by default (as many wider tiles as
    fit that width), fewer for few classes."""
    cols = max(1, ncols or min(max(1, 10 * TILE // tile_width(panels)), max(n_classes, 1)))
    return max(1, math.ceil(n_classes / cols)), cols


def montage_size(n_classes: int, ncols: int | None = None, panels: int = 1) -> tuple[int, int]:
    """(width, height) in pixels of the montage PNG for ``n_classes`` of ``panels`` views each."""
    rows, cols = montage_layout(n_classes, ncols, panels)
    return max(cols * tile_width(panels), MIN_WIDTH), TITLE_BAND + rows * (TILE + TEXT_BAND)


def tile_origin(index: int, cols: int, panels: int = 1) -> tuple[int, int]:
    """(x, y) in pixels of the top left corner of tile ``index`` (its frame) in the montage."""
    r, c = divmod(index, cols)
    return c * tile_width(panels), TITLE_BAND + r * (TILE + TEXT_BAND)


def map_projections(volume: np.ndarray) -> list[np.ndarray]:
    """A 3D map's three orthogonal projections: its sums along z, y and x (MRC order), as
    ``relion_display`` shows a map's projections."""
    return [volume.sum(axis=axis) for axis in range(3)]


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


@functools.lru_cache(maxsize=65536)
def _length(font, text: str) -> float:
    """``font.getlength(text)``, measured once per font and text (a montage measures the same
    reasons and prefixes for many classes: ~5,000 measures, ~0.15 s, for 200 classes)."""
    return font.getlength(text)


def _fit(text: str, font, width: float) -> str:
    """``text``, cut with an ellipsis so that it is at most ``width`` pixels wide."""
    if _length(font, text) <= width:
        return text
    while text and _length(font, text + "…") > width:
        text = text[:-1]
    return text + "…"


def wrap_text(text: str, font, width: float, max_lines: int = REASON_LINES) -> list[str]:
    """``text`` broken at spaces (inside a word only when the word alone is too wide) into lines at
    most ``width`` pixels wide; beyond ``max_lines`` the last line ends with an ellipsis."""
    return list(_wrapped(text, font, width, max_lines))


@functools.lru_cache(maxsize=4096)
def _wrapped(text: str, font, width: float, max_lines: int) -> tuple[str, ...]:
    """:func:`wrap_text`, once per text (classes share their reasons)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if _length(font, candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while _length(font, word) > width:  # a word wider than a line: split it
            cut = len(word) - 1
            while cut > 1 and _length(font, word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [_fit(" ".join(lines[max_lines - 1:]), font, width)]
    return tuple(lines)


class MontageTiles:
    """The class images of a montage, scaled and stretched: the part drawn before the scores exist.

    The External job builds this while the model worker loads and predicts, then :meth:`draw`
    adds frames and text. ``views`` holds, per class, the views shown side by side in its tile: one
    for a 2D class, the three projections (:data:`PROJECTION_AXES`) for a 3D class; every class the
    same number. :meth:`of_images` makes them from class images or maps.
    """

    def __init__(self, views: Sequence[Sequence[np.ndarray]], ncols: int | None = None):
        self.ncols = ncols
        #: Per class, (INNER, INNER) uint8 grey views; None where a view is blank (NaN or constant).
        self.tiles: list[list[np.ndarray | None]] = []
        for class_views in views:
            shown = [display_tile(view, INNER) for view in class_views]
            self.tiles.append([None if tile is None else (tile * 255 + 0.5).astype(np.uint8) for tile in shown])
        self.panels = len(self.tiles[0]) if self.tiles else 1
        if any(len(class_views) != self.panels for class_views in self.tiles):
            raise ValueError("montage needs the same number of views for every class")
        if self.panels not in (1, len(PROJECTION_AXES)):
            raise ValueError(f"montage shows 1 or {len(PROJECTION_AXES)} views per class, not {self.panels}")

    @classmethod
    def of_images(cls, images: np.ndarray, ncols: int | None = None) -> "MontageTiles":
        """(K, N, N) class images, one view each, or (K, N, N, N) maps, their three projections each."""
        return cls([map_projections(image) if np.ndim(image) == 3 else [image] for image in images], ncols)

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
        panels, wide = self.panels, tile_width(self.panels)
        _, cols = montage_layout(k, self.ncols, panels)
        width, height = montage_size(k, self.ncols, panels)
        origins = [tile_origin(i, cols, panels) for i in range(k)]
        canvas = np.full((height, width, 3), 255, dtype=np.uint8)
        for i, (x0, y0) in enumerate(origins):
            canvas[y0:y0 + TILE, x0:x0 + wide] = _BLUE_RGB if int(selected[i]) else _ORANGE_RGB
            for p, tile in enumerate(self.tiles[i]):
                left = x0 + panel_left(p)
                patch = canvas[y0 + FRAME:y0 + FRAME + INNER, left:left + INNER]
                patch[:] = 237 if tile is None else tile[:, :, None]
        image = Image.fromarray(canvas, mode="RGB")
        pen = ImageDraw.Draw(image)
        label, bold, note = _font(LABEL_PX), _font(LABEL_PX, bold=True), _font(NOTE_PX)
        for i, (x0, y0) in enumerate(origins):
            keep = bool(int(selected[i]))
            colour = BLUE if keep else _REJECT_TEXT
            centre = x0 + wide / 2
            for p, tile in enumerate(self.tiles[i]):
                if tile is None:
                    pen.text((x0 + panel_left(p) + INNER / 2, y0 + TILE / 2), "no image", fill="#444444", font=note,
                             anchor="mm")
                if panels > 1:
                    pen.text((x0 + panel_left(p) + 2, y0 + FRAME + 1), PROJECTION_AXES[p], fill=colour, font=bold,
                             anchor="lt")
            score = float(scores[i])
            score_text = f"{score:.2f}" if np.isfinite(score) else "n/a"
            headline = f"#{int(class_numbers[i])} {score_text} {'KEEP' if keep else 'REJECT'}"
            pen.text((centre, y0 + TILE + 2), _fit(headline, bold, wide - 2), fill=colour, font=bold, anchor="mt")
            for n, line in enumerate(wrap_text(str(reasons[i] or ""), label, wide - 2)):
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
    (K, N, N, N) maps, each shown as its projections along z, y and x). The PNG is exactly
    :func:`montage_size` pixels.
    """
    return MontageTiles.of_images(images, ncols).draw(class_numbers, scores, selected, reasons, out_png, title)
