"""PNG plots of an evaluation and the class montage written by the External job.

Figures are built with the object-oriented Matplotlib API on the Agg canvas (no pyplot, no
display needed). Colours are from the Okabe-Ito colour-blind safe palette: blue for
selected / good, orange for rejected / junk; decisions are also written out in text.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave
from scipy import ndimage

from relion_cryodiscovery.evaluation.fsc import FSCCurve
from relion_cryodiscovery.evaluation.metrics import reliability_bins, roc_curve

BLUE = "#0072B2"
ORANGE = "#E69F00"
GREY = "#999999"
_BLUE_RGB = np.array([0x00, 0x72, 0xB2], dtype=np.uint8)
_ORANGE_RGB = np.array([0xE6, 0x9F, 0x00], dtype=np.uint8)
#: Rows blended at a time when text is laid over the canvas (bounds memory for 1000+ classes).
_BLEND_ROWS = 512

#: Montage geometry in pixels (the PNG is saved at MONTAGE_DPI, so sizes are exact).
TILE = 84
FRAME = 3
TEXT_BAND = 26
TITLE_BAND = 28
MONTAGE_DPI = 100


def _save(fig: Figure, out_png: str | Path, dpi: int = 100) -> Path:
    """Render ``fig`` with Agg to ``out_png`` (parent directories created, fast PNG compression)."""
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out, dpi=dpi, format="png", pil_kwargs={"compress_level": 1})
    return out


def plot_roc(truth: Sequence[int], scores: Sequence[float], out_png: str | Path, title: str = "ROC") -> Path:
    """ROC curve of the scores against truth, with the chance diagonal and the AUC in the legend."""
    fpr, tpr, _ = roc_curve(truth, scores)
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color=GREY, lw=1, label="chance")
    if np.isnan(fpr).any() or np.isnan(tpr).any():
        ax.text(0.5, 0.5, "ROC undefined:\nonly one label present", ha="center", va="center")
    else:
        auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        ax.step(fpr, tpr, where="post", color=BLUE, lw=2, label=f"AUC = {auc:.3f}")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate (junk kept)",
           ylabel="true-positive rate (good kept)", title=title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return _save(fig, out_png)


def plot_score_histogram(truth: Sequence[int], scores: Sequence[float], out_png: str | Path,
                         threshold: float | None = None, title: str = "Scores by true label") -> Path:
    """Overlaid histograms of P(good) for good and junk classes, optional threshold line."""
    t = np.asarray(truth).astype(int)
    s = np.asarray(scores, dtype=float)
    ok = np.isfinite(s)
    bins = np.linspace(0, 1, 21)
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.add_subplot()
    ax.hist(s[ok & (t == 1)], bins=bins, color=BLUE, alpha=0.7,
            label=f"good (n={int((ok & (t == 1)).sum())})")
    ax.hist(s[ok & (t == 0)], bins=bins, color=ORANGE, alpha=0.7, hatch="//",
            label=f"junk (n={int((ok & (t == 0)).sum())})")
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set(xlim=(0, 1), xlabel="score P(good)", ylabel="classes", title=title)
    ax.legend()
    fig.tight_layout()
    return _save(fig, out_png)


def plot_reliability(truth: Sequence[int], scores: Sequence[float], out_png: str | Path,
                     title: str = "Calibration") -> Path:
    """Reliability diagram: fraction good versus mean score per equal-width bin."""
    s = np.asarray(scores, dtype=float)
    ok = np.isfinite(s)
    bins = reliability_bins(np.asarray(truth)[ok], s[ok])
    used = bins["count"] > 0
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color=GREY, lw=1, label="perfect")
    ax.plot(bins["mean_score"][used], bins["fraction_good"][used], "o-", color=BLUE, label="classes")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean score in bin", ylabel="fraction good in bin", title=title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return _save(fig, out_png)


def plot_fsc(curves: dict[str, FSCCurve], out_png: str | Path,
             title: str = "Fourier shell correlation") -> Path:
    """FSC versus spatial frequency (1/Å) for each named curve, with 0.143 and 0.5 lines."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    colours = [BLUE, ORANGE, "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
    for i, (name, curve) in enumerate(curves.items()):
        r = curve.resolution(0.143)
        label = f"{name} ({r:.1f} Å at 0.143)" if np.isfinite(r) else name
        ax.plot(curve.frequency[1:], curve.fsc[1:], color=colours[i % len(colours)], lw=1.8, label=label)
    for level, style in ((0.143, ":"), (0.5, "--")):
        ax.axhline(level, color="black", ls=style, lw=1)
        ax.text(ax.get_xlim()[1] if curves else 1, level, f" {level:g}", va="bottom", ha="right", fontsize=8)
    ax.set(xlabel="spatial frequency (1/Å)", ylabel="FSC", ylim=(-0.1, 1.05), title=title)
    if curves:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, out_png)


def montage_layout(n_classes: int, ncols: int | None = None) -> tuple[int, int]:
    """(rows, columns) of the class montage: 10 columns by default, fewer for few classes."""
    cols = max(1, ncols or min(10, max(n_classes, 1)))
    return max(1, math.ceil(n_classes / cols)), cols


def montage_size(n_classes: int, ncols: int | None = None) -> tuple[int, int]:
    """(width, height) in pixels of the montage PNG for ``n_classes``."""
    rows, cols = montage_layout(n_classes, ncols)
    return cols * TILE, TITLE_BAND + rows * (TILE + TEXT_BAND)


def _display_tile(image: np.ndarray, size: int) -> np.ndarray | None:
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
            tile = _display_tile(image, inner)
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
        k = len(class_numbers)
        if len(self.tiles) != k or not (len(scores) == len(selected) == len(reasons) == k):
            raise ValueError(f"montage needs one image, score, decision and reason per class ({k} classes)")
        ncols = self.ncols
        rows, cols = montage_layout(k, ncols)
        width, height = montage_size(k, ncols)
        inner = TILE - 2 * FRAME
        canvas = np.full((height, width, 3), 255, dtype=np.uint8)
        fig = Figure(figsize=(width / MONTAGE_DPI, height / MONTAGE_DPI), dpi=MONTAGE_DPI)

        def label(x: float, y: float, text: str, **kw: object) -> None:
            """Text at pixel (x, y) measured from the top left."""
            fig.text(x / width, 1.0 - y / height, text, **kw)

        label_kw = dict(ha="center", va="top", fontsize=6)
        max_chars = int(TILE / 4.9)
        for i in range(k):
            r, c = divmod(i, cols)
            x0, y0 = c * TILE, TITLE_BAND + r * (TILE + TEXT_BAND)
            keep = bool(int(selected[i]))
            canvas[y0:y0 + TILE, x0:x0 + TILE] = _BLUE_RGB if keep else _ORANGE_RGB
            tile = self.tiles[i]
            patch = canvas[y0 + FRAME:y0 + FRAME + inner, x0 + FRAME:x0 + FRAME + inner]
            if tile is None:
                patch[:] = 237
                label(x0 + TILE / 2, y0 + TILE / 2 - 5, "no image", ha="center", va="top", fontsize=7,
                      color="#444444")
            else:
                patch[:] = tile[:, :, None]
            score = float(scores[i])
            score_text = f"{score:.2f}" if np.isfinite(score) else "n/a"
            decision = "KEEP" if keep else "REJECT"
            label(x0 + TILE / 2, y0 + TILE + 1, f"#{int(class_numbers[i])} {score_text} {decision}",
                  color=BLUE if keep else "#A35F00", weight="bold", **label_kw)
            reason = str(reasons[i] or "")
            if len(reason) > max_chars:
                reason = reason[: max_chars - 1] + "…"
            if reason:
                label(x0 + TILE / 2, y0 + TILE + 13, reason, color="#333333", **label_kw)
        n_keep = int(np.sum(np.asarray(selected).astype(int) > 0))
        legend = " (blue = keep, orange = reject)" if width >= 600 else ""
        label(4, 6, f"{title}: {n_keep}/{k} selected{legend}",
              ha="left", va="top", fontsize=9, weight="bold")
        # Text is rendered on a transparent figure and laid over the pixel canvas: no resampling.
        fig.patch.set_alpha(0.0)
        agg = FigureCanvasAgg(fig)
        agg.draw()
        text = np.asarray(agg.buffer_rgba())[:height, :width]
        for start in range(0, height, _BLEND_ROWS):  # in strips: a 1000-class montage stays small in memory
            rows_text = text[start:start + _BLEND_ROWS].astype(np.float32)
            alpha = rows_text[..., 3:4] / 255.0
            strip = canvas[start:start + _BLEND_ROWS]
            strip[:] = (rows_text[..., :3] * alpha + strip * (1.0 - alpha) + 0.5).astype(np.uint8)
        out = Path(out_png)
        out.parent.mkdir(parents=True, exist_ok=True)
        imsave(out, canvas, format="png", pil_kwargs={"compress_level": 1})
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
    images = np.asarray(images)
    if images.shape[0] != len(class_numbers):
        raise ValueError(f"montage needs one image, score, decision and reason per class ({len(class_numbers)} classes)")
    return MontageTiles(images, ncols).draw(class_numbers, scores, selected, reasons, out_png, title)


def image_pair(left: np.ndarray, right: np.ndarray, out_png: str | Path, titles: tuple[str, str]) -> Path:
    """Two images side by side in grey (e.g. particle averages of two selections)."""
    fig = Figure(figsize=(6, 3.2))
    for i, (img, name) in enumerate(zip((left, right), titles)):
        ax = fig.add_subplot(1, 2, i + 1)
        tile = _display_tile(img, int(np.shape(img)[-1]))
        ax.imshow(tile if tile is not None else np.ones((8, 8)), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, out_png)
