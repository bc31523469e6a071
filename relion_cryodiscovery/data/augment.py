"""Training augmentation of normalised class views, in NumPy, deterministic given a Generator.

Applied per training batch by :mod:`relion_cryodiscovery.training.trainer` (never part of a
saved model). For each view, in this order:

1. one affine resampling (bilinear, zero outside): in-plane rotation by a uniform angle,
   a flip with probability 0.5 (rotation + one flip covers all mirror images) and a shift
   of up to ``max_shift`` pixels in each axis;
2. low-pass blur with probability ``p_blur``: Gaussian of sigma uniform in ``(0, max_blur_sigma]`` px
   (applied in Fourier space);
3. contrast change: multiply by a factor uniform in ``contrast_range`` about the view's mean;
4. additive Gaussian noise with sigma uniform in ``[0, max_noise_std]`` (images have unit std
   in the particle mask, so this is relative to the signal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import map_coordinates


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of each augmentation; ``AugmentConfig.none()`` disables all."""

    rotate: bool = True
    flip: bool = True
    max_shift: float = 3.0
    p_blur: float = 0.3
    max_blur_sigma: float = 1.0
    contrast_range: tuple[float, float] = (0.8, 1.25)
    max_noise_std: float = 0.3

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(False, False, 0.0, 0.0, 0.0, (1.0, 1.0), 0.0)

    def to_dict(self) -> dict:
        return asdict(self)


def _affine(images: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    n, h, w = images.shape
    angle = rng.uniform(0.0, 2 * np.pi, n) if config.rotate else np.zeros(n)
    mirror = np.where(rng.random(n) < 0.5, -1.0, 1.0) if config.flip else np.ones(n)
    shift = np.zeros((n, 2))
    if config.max_shift > 0:
        shift = rng.uniform(-config.max_shift, config.max_shift, (n, 2))
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    # Output pixel p samples the input at R(angle) @ M @ (p - c - shift) + c, M mirrors x.
    dy = yy[None] - cy - shift[:, 0, None, None]
    dx = (xx[None] - cx - shift[:, 1, None, None]) * mirror[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    src_y = cos * dy - sin * dx + cy
    src_x = sin * dy + cos * dx + cx
    index = np.broadcast_to(np.arange(n, dtype=np.float64)[:, None, None], src_y.shape)
    return map_coordinates(images, np.stack([index, src_y, src_x]), order=1, mode="constant", cval=0.0)


def _blur(images: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    n, h, w = images.shape
    sigma = np.where(rng.random(n) < config.p_blur, rng.uniform(0.0, config.max_blur_sigma, n), 0.0)
    if not np.any(sigma > 0):
        return images
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :]
    transfer = np.exp(-2.0 * np.pi**2 * sigma[:, None, None] ** 2 * (ky**2 + kx**2)[None])
    return np.fft.irfft2(np.fft.rfft2(images, axes=(1, 2)) * transfer, s=(h, w), axes=(1, 2))


def augment_images(
    images: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> np.ndarray:
    """Augment a stack of views ``(n, S, S)``; returns a new float32 array. Same rng state -> same output."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"expected (n, S, S) views, got shape {x.shape}")
    if len(x) == 0:
        return x.astype(np.float32)
    if config.rotate or config.flip or config.max_shift > 0:
        x = _affine(x, rng, config)
    if config.p_blur > 0 and config.max_blur_sigma > 0:
        x = _blur(x, rng, config)
    low, high = config.contrast_range
    if (low, high) != (1.0, 1.0):
        factor = rng.uniform(low, high, len(x))[:, None, None]
        mean = x.mean(axis=(1, 2), keepdims=True)
        x = (x - mean) * factor + mean
    if config.max_noise_std > 0:
        sigma = rng.uniform(0.0, config.max_noise_std, len(x))[:, None, None]
        x = x + sigma * rng.standard_normal(x.shape)
    return x.astype(np.float32)
