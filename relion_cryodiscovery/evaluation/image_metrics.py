"""MSE and SSIM between what two selections keep: class averages and aligned particle averages.

Every image is normalised to zero mean and unit standard deviation first (constant or
non-finite images become all zeros), so MSE is in units of the image standard deviation.
SSIM uses :func:`skimage.metrics.structural_similarity` with ``data_range`` set to
``max(a, b) - min(a, b)`` of the two normalised images (the range they actually span), a
7-pixel window (smaller for tiny images) and works for 2D images and 3D maps alike.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.metrics import structural_similarity

from relion_cryodiscovery.errors import CryoDiscoveryError


def normalise(image: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation; non-finite values count as 0, constant images give zeros."""
    img = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    std = img.std()
    return (img - img.mean()) / std if std > 0 else np.zeros_like(img)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference of the normalised images."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"shapes differ: {np.shape(a)} vs {np.shape(b)}")
    return float(np.mean((normalise(a) - normalise(b)) ** 2))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of the normalised images (data_range = joint range); 1.0 for identical images."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"shapes differ: {np.shape(a)} vs {np.shape(b)}")
    na, nb = normalise(a), normalise(b)
    data_range = float(max(na.max(), nb.max()) - min(na.min(), nb.min()))
    if data_range == 0:
        return 1.0
    win = min(7, min(na.shape))
    win -= 1 - win % 2
    if win < 3:
        return math.nan
    return float(structural_similarity(na, nb, data_range=data_range, win_size=win))


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """``{"mse": ..., "ssim": ...}`` of two images or maps."""
    return {"mse": mse(a, b), "ssim": ssim(a, b)}


def mean_normalised(images: list[np.ndarray]) -> np.ndarray:
    """Mean of the individually normalised images."""
    return np.mean([normalise(im) for im in images], axis=0)


def compare_class_selections(pred: dict[int, np.ndarray], truth: dict[int, np.ndarray]) -> dict[str, object]:
    """Compare class averages kept by the prediction with those kept by the truth.

    ``pred`` and ``truth`` map class number -> kept image. Reports MSE/SSIM of the mean of
    each kept set and, for classes kept by both, per-class MSE/SSIM (differs from 0/1 only
    when the two sides come from different files, e.g. re-centred Select averages).
    """
    out: dict[str, object] = {"n_pred_kept": len(pred), "n_truth_kept": len(truth)}
    if not pred or not truth:
        out["note"] = "one of the selections keeps no class: no image comparison"
        return out
    shapes = {im.shape for im in list(pred.values()) + list(truth.values())}
    if len(shapes) != 1:
        out["note"] = f"class images differ in shape {sorted(shapes)}: no image comparison"
        return out
    out["mean_of_kept"] = compare(mean_normalised(list(pred.values())), mean_normalised(list(truth.values())))
    both = sorted(set(pred) & set(truth))
    per_class = {int(k): compare(pred[k], truth[k]) for k in both}
    out["per_class"] = per_class
    if per_class:
        out["per_class_mean"] = {
            m: float(np.nanmean([v[m] for v in per_class.values()])) for m in ("mse", "ssim")
        }
    return out


def align_particle(image: np.ndarray, psi_deg: float, origin_x_px: float, origin_y_px: float) -> np.ndarray:
    """Undo RELION's in-plane transform: the result lines up with the class average.

    RELION models a particle as the reference rotated in-plane by psi and then moved by
    ``-origin`` (content sits at centre - origin), so ``aligned(u) = particle(A(psi) u - origin)``
    with ``A = [[cos, sin], [-sin, cos]]`` in (x, y); checked against ``relion_project``.
    """
    img = np.asarray(image, dtype=np.float64)
    c, s = math.cos(math.radians(psi_deg)), math.sin(math.radians(psi_deg))
    matrix = np.array([[c, -s], [s, c]])  # acts on (row, col) = (y, x)
    centre = np.array([img.shape[0] // 2, img.shape[1] // 2], dtype=float)
    offset = centre - matrix @ centre - np.array([origin_y_px, origin_x_px])
    return ndimage.affine_transform(img, matrix, offset=offset, order=1, mode="constant", cval=0.0)


def aligned_average(particles: pd.DataFrame, read_image: Callable[[str], np.ndarray], pixel_size: float,
                    max_particles: int | None = 2000, seed: int = 0) -> tuple[np.ndarray, int]:
    """Mean of in-plane aligned particle images (deterministic subsample of ``max_particles``).

    ``read_image(ref)`` returns the image for an ``rlnImageName``; missing psi/origin columns
    count as 0. Returns (average, number of particles used).
    """
    if len(particles) == 0:
        raise CryoDiscoveryError(None, "no particles to average")
    rows = particles
    if max_particles is not None and len(rows) > max_particles:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), max_particles, replace=False))
        rows = rows.iloc[pick]

    def column(name: str, fallback: str | None = None, scale: float = 1.0) -> np.ndarray:
        if name in rows.columns:
            return rows[name].to_numpy(dtype=float) / scale
        if fallback and fallback in rows.columns:
            return rows[fallback].to_numpy(dtype=float)
        return np.zeros(len(rows))

    psi = column("rlnAnglePsi")
    ox = column("rlnOriginXAngst", "rlnOriginX", pixel_size)
    oy = column("rlnOriginYAngst", "rlnOriginY", pixel_size)
    total = None
    for ref, p, x, y in zip(rows["rlnImageName"].astype(str), psi, ox, oy):
        aligned = align_particle(read_image(ref), p, x, y)
        total = aligned if total is None else total + aligned
    return total / len(rows), len(rows)
