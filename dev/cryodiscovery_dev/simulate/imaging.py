"""Image formation: project a structure, blur by the blob kernel and CTF, add noise, normalise."""

from __future__ import annotations

import numpy as np
from scipy import fft

from .ctf import CtfParams, ctf_values, frequency_grid
from .orientations import euler_to_matrix
from .point_model import Structure, splat


def project(structure: Structure, angles: np.ndarray, shift_px: np.ndarray, canvas: int, pixel_size: float,
            hinge_angle: float = 0.0, keep: np.ndarray | None = None) -> np.ndarray:
    """Point-mass projection (canvas, canvas) along z after rotating by RELION Euler ``angles``.

    Blurring with the blob kernel happens later in :func:`apply_optics` (a projected Gaussian
    is a 2D Gaussian), so the result equals the line integral of :meth:`Structure.render`.
    ``keep`` optionally restricts the projection to a subset of points (fragments).
    """
    pts = structure.pose(hinge_angle)
    w = structure.weights
    if keep is not None:
        pts, w = pts[keep], w[keep]
    rotated = pts @ euler_to_matrix(*angles).T
    xy = rotated[:, :2] / pixel_size + np.asarray(shift_px)
    return splat(xy, w, (canvas, canvas))


def blob_transfer(canvas: int, pixel_size: float, sigma_a: float) -> np.ndarray:
    """Fourier transform of the Gaussian blob of width ``sigma_a`` on the ``rfft2`` grid."""
    kx, ky = frequency_grid(canvas, pixel_size, half=True)
    return np.exp(-2 * np.pi**2 * sigma_a**2 * (kx**2 + ky**2))


def apply_optics(images: np.ndarray, pixel_size: float, ctfs: list[CtfParams | None], blob: np.ndarray,
                 envelope_bfactors: np.ndarray | None = None) -> np.ndarray:
    """Convolve each (canvas, canvas) image with the blob kernel, its CTF (None = no CTF) and its
    B-factor envelope."""
    canvas = images.shape[-1]
    kx, ky = frequency_grid(canvas, pixel_size, half=True)
    k2 = kx**2 + ky**2
    bf = np.zeros(len(images)) if envelope_bfactors is None else np.asarray(envelope_bfactors, float)
    f = fft.rfft2(images, workers=-1)
    for i, p in enumerate(ctfs):
        f[i] *= blob * np.exp(-bf[i] / 4.0 * k2) * (1.0 if p is None else ctf_values(kx, ky, p))
    return fft.irfft2(f, s=images.shape[-2:], workers=-1)


def crop_centre(images: np.ndarray, box: int) -> np.ndarray:
    """Central box x box window of (..., canvas, canvas) images (centre pixel stays at box // 2)."""
    c = images.shape[-1]
    lo = c // 2 - box // 2
    return images[..., lo:lo + box, lo:lo + box]


def background_mask(box: int, radius_fraction: float = 0.75) -> np.ndarray:
    """True outside the circle of RELION's default background radius (0.75 x box/2)."""
    y, x = np.indices((box, box)) - box // 2
    return np.hypot(x, y) > radius_fraction * box / 2


def normalise(images: np.ndarray) -> np.ndarray:
    """RELION-style normalisation: background mean 0 and standard deviation 1 per image."""
    bg = images[:, background_mask(images.shape[-1])]
    mean = bg.mean(1)[:, None, None]
    sd = bg.std(1)[:, None, None]
    return ((images - mean) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
