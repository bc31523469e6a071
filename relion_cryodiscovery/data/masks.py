"""Radial distances and soft (raised-cosine) masks: the one implementation used by the network
views (``preprocess``), the spectral features, the simulators and the FSC of ``evaluate``.

numpy only, so the External job can import it before its model worker starts.

Two centre conventions are in use, and each caller names its own:

* ``"index"``: element ``n // 2`` of each axis, the origin of RELION's boxes and of an FFT
  (masks of class averages, spectral measures, FSC);
* ``"middle"``: ``(n - 1) / 2``, the geometric middle, mirror-symmetric also for even ``n``
  (the 64x64 network views).
"""

from __future__ import annotations

from functools import reduce
from typing import Literal

import numpy as np

Centre = Literal["index", "middle"]


def radial_distance(shape: tuple[int, ...], centre: Centre = "index", unit: float = 1.0) -> np.ndarray:
    """Distance of every element of an array of ``shape`` from its centre, in ``unit`` pixels (float64)."""
    if centre not in ("index", "middle"):
        raise ValueError(f"centre must be 'index' or 'middle', not {centre!r}")
    axes = [np.arange(n) - (n // 2 if centre == "index" else (n - 1) / 2.0) for n in shape]
    distance = reduce(np.hypot, np.meshgrid(*axes, indexing="ij", sparse=True))
    return np.broadcast_to(distance, shape) / unit if unit != 1.0 else np.broadcast_to(distance, shape).copy()


def soft_mask(shape: tuple[int, ...], radius: float, edge: float, centre: Centre = "index",
              unit: float = 1.0) -> np.ndarray:
    """1 within ``radius`` of the centre, falling as a raised cosine to 0 at ``radius + edge``
    (RELION's soft masks); distances in ``unit`` pixels, ``edge`` 0 gives a hard mask (float64)."""
    distance = radial_distance(shape, centre, unit)
    if edge <= 0:
        return (distance <= radius).astype(np.float64)
    return 0.5 + 0.5 * np.cos(np.pi * np.clip((distance - radius) / edge, 0, 1))


def soft_disc(size: int, radius_px: float, edge_px: float) -> np.ndarray:
    """A ``size x size`` :func:`soft_mask` centred on pixel ``size // 2``."""
    return soft_mask((size, size), radius_px, edge_px)
