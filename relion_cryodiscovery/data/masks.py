"""Soft circular masks (numpy only, so the External job can import it before its model worker starts)."""

from __future__ import annotations

import numpy as np


def soft_disc(size: int, radius_px: float, edge_px: float) -> np.ndarray:
    """``size x size`` disc of ``radius_px`` round pixel ``size // 2`` with a raised-cosine edge
    ``edge_px`` wide (1 inside, 0 beyond ``radius_px + edge_px``), as RELION's soft masks."""
    y, x = np.indices((size, size)) - size // 2
    r = np.hypot(x, y)
    return 0.5 + 0.5 * np.cos(np.pi * np.clip((r - radius_px) / edge_px, 0, 1))
