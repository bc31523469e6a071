"""A structure as weighted points in Angstrom, and maps rendered from it by splatting.

The one type every structure source returns: the procedural structures (:mod:`.structures`) and
the real atomic models (:mod:`.atomic`, whose :class:`~.atomic.AtomicStructure` extends it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation


@dataclass
class Structure:
    """Pseudo-atomic model: points (M, 3) in A, their weights, and their domain index."""

    coords: np.ndarray
    weights: np.ndarray
    domains: np.ndarray
    blob_sigma: float = 2.0
    #: For flexible structures: moving domain, hinge point (A), axis and max angle (deg).
    hinge: dict | None = None
    provenance: dict = field(default_factory=dict)

    @property
    def radius(self) -> float:
        """Largest distance (A) of any point from the origin, plus one blob width."""
        return float(np.sqrt((self.coords**2).sum(1)).max() + 2 * self.blob_sigma)

    def pose(self, hinge_angle: float = 0.0) -> np.ndarray:
        """Point coordinates with the flexible domain turned by ``hinge_angle`` degrees."""
        if not self.hinge or hinge_angle == 0.0:
            return self.coords
        moving = self.domains == self.hinge["domain"]
        centre = np.asarray(self.hinge["point"])
        rot = Rotation.from_rotvec(np.deg2rad(hinge_angle) * np.asarray(self.hinge["axis"]))
        out = self.coords.copy()
        out[moving] = rot.apply(out[moving] - centre) + centre
        return out

    def render(self, pixel_size: float, box: int, hinge_angle: float = 0.0) -> np.ndarray:
        """Density map (box, box, box) float32, indices (z, y, x), origin at box // 2."""
        grid = splat(self.pose(hinge_angle) / pixel_size, self.weights, (box,) * 3)
        return ndimage.gaussian_filter(grid, self.blob_sigma / pixel_size).astype(np.float32)


def splat(points_px: np.ndarray, weights: np.ndarray, shape: tuple[int, ...], *,
          sum_per_corner: bool = False) -> np.ndarray:
    """Linear-interpolation splatting of points (x, y[, z] in px, origin at centre) onto a grid.

    The grid is indexed in reverse order of the point coordinates ((y, x) or (z, y, x)), like
    an image or an MRC map; points outside the grid are dropped.

    ``sum_per_corner``: add up each corner's shares in a pass of its own, then the corners (the lab-like
    class averages, :mod:`.lab_averaging`), instead of all shares in one pass (the particle simulator). The two
    orders differ only in rounding (about 1e-15 of the largest pixel); each simulator keeps the order it was
    written with, so the committed corpora regenerate byte for byte.
    """
    ndim = len(shape)
    pos = points_px[:, :ndim][:, ::-1] + np.array([s // 2 for s in shape])
    base = np.floor(pos).astype(np.int64)
    frac = pos - base
    corners = np.array(list(np.ndindex(*(2,) * ndim)))  # (2^ndim, ndim)
    idx = base[None] + corners[:, None]  # (2^ndim, M, ndim)
    w = weights[None] * np.prod(np.where(corners[:, None].astype(bool), frac[None], 1 - frac[None]), axis=2)
    ok = np.all((idx >= 0) & (idx < np.array(shape)), axis=2)
    strides = np.array([int(np.prod(shape[i + 1:])) for i in range(ndim)])
    size = int(np.prod(shape))
    if not sum_per_corner:
        return np.bincount(idx[ok] @ strides, w[ok], minlength=size).reshape(shape)
    flat = np.zeros(size)
    for corner_idx, corner_w, corner_ok in zip(idx, w, ok):
        flat += np.bincount(corner_idx[corner_ok] @ strides, corner_w[corner_ok], minlength=size)
    return flat.reshape(shape)
