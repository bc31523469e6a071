"""PNG plots of an evaluation (the class montage is in :mod:`relion_cryodiscovery.pipeline.montage`).

Figures are built with the object-oriented Matplotlib API on the Agg canvas (no pyplot, no
display needed). Colours are from the Okabe-Ito colour-blind safe palette: blue for
selected / good, orange for rejected / junk; decisions are also written out in text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from relion_cryodiscovery.evaluation.fsc import FSCCurve
from relion_cryodiscovery.evaluation.metrics import reliability_bins, roc_curve
from relion_cryodiscovery.pipeline.montage import BLUE, ORANGE, display_tile

GREY = "#999999"


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


def image_pair(left: np.ndarray, right: np.ndarray, out_png: str | Path, titles: tuple[str, str]) -> Path:
    """Two images side by side in grey (e.g. particle averages of two selections)."""
    fig = Figure(figsize=(6, 3.2))
    for i, (img, name) in enumerate(zip((left, right), titles)):
        ax = fig.add_subplot(1, 2, i + 1)
        tile = display_tile(img, int(np.shape(img)[-1]))
        ax.imshow(tile if tile is not None else np.ones((8, 8)), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    fig.tight_layout()
    return _save(fig, out_png)
