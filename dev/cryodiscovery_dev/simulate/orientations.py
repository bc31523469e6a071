"""Orientations in RELION's ZYZ Euler convention (rot, tilt, psi in degrees)."""

from __future__ import annotations

import numpy as np


def euler_to_matrix(rot: np.ndarray, tilt: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """(N, 3, 3) matrices A as RELION's ``Euler_angles2matrix``; a projection sees ``A @ r``."""
    a, b, g = (np.deg2rad(np.asarray(v, float)) for v in (rot, tilt, psi))
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    m = np.empty(np.shape(a) + (3, 3))
    m[..., 0, 0] = cg * cc - sg * sa
    m[..., 0, 1] = cg * cs + sg * ca
    m[..., 0, 2] = -cg * sb
    m[..., 1, 0] = -sg * cc - cg * sa
    m[..., 1, 1] = -sg * cs + cg * ca
    m[..., 1, 2] = sg * sb
    m[..., 2, 0] = sc
    m[..., 2, 1] = ss
    m[..., 2, 2] = cb
    return m


def sample_orientations(rng: np.random.Generator, n: int, preferred_fraction: float = 0.0,
                        preferred_view: tuple[float, float] = (0.0, 0.0), spread_deg: float = 12.0) -> np.ndarray:
    """(n, 3) rot, tilt, psi: uniform on SO(3), with ``preferred_fraction`` of them drawn around
    ``preferred_view`` (rot, tilt) with a Gaussian angular spread (an air-water interface bias)."""
    rot = rng.uniform(0, 360, n)
    tilt = np.rad2deg(np.arccos(rng.uniform(-1, 1, n)))
    psi = rng.uniform(0, 360, n)
    biased = rng.random(n) < preferred_fraction
    k = int(biased.sum())
    if k:
        # Small cone around +z, then turned onto the preferred direction.
        t = np.deg2rad(np.abs(rng.normal(0, spread_deg, k)))
        p = rng.uniform(0, 2 * np.pi, k)
        d = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=1)
        m = euler_to_matrix(preferred_view[0], preferred_view[1], 0.0)
        d = d @ m  # rows: m.T @ d_i, i.e. from the view frame into the map frame
        rot[biased] = np.rad2deg(np.arctan2(d[:, 1], d[:, 0])) % 360
        tilt[biased] = np.rad2deg(np.arccos(np.clip(d[:, 2], -1, 1)))
    return np.stack([rot, tilt, psi], axis=1)
