"""Image measures that hold across domains, taken from each class's own pixels at full detail.

The network sees a 64 px view of each class; a lab's 256-400 px class loses its finest detail
there. These measures are computed on a larger view (the particle window, Fourier-cropped to at
most ``SPECTRAL_SIZE`` px) and in units of the particle diameter ``D`` (cycles per diameter,
``k D``), so they mean the same at any box, pixel size or export (float, 8-bit, JPEG):

* ``hf_power_fraction``: in-mask power at ``k D >= HF_CUT_KD`` over power at ``k D >= 1``, the
  trivial "sharp classes are good" baseline (:func:`high_frequency_power_fraction`).
* ``spectral_resolution_kd``: highest ``k D`` whose radial in-mask power stays a decade above the
  class's own noise floor (the median of the outermost shells, but at most ``FLOOR_DECADES`` below
  the power at ``k D ~ 2``, for up-sampled figures): a resolution estimate from the class's power
  spectrum, independent of RELION's.
* ``spectral_resolution_nyquist``: the same as a fraction of the view's Nyquist frequency
  (Nyquist-limited, binned classes reach ~1).
* ``spectral_slope``: slope of log power against log ``k D`` over ``2 <= k D <= 12``.
* ``ring_1 .. ring_4``: radial profile, mean normalised intensity in rings at 0-1/3, 1/3-2/3,
  2/3-1 and 1-1.3 particle radii (dark halos, noise-attractor rings, off-centre mass).
* ``edge_anisotropy``: how unevenly mid/high-frequency power is spread over directions (straight
  carbon or ice edges and streaky over-fitted classes put it into one direction).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy import fft  # numpy, not scipy: the External job imports this before its model worker starts

from .masks import soft_disc

#: Largest side of the view the spectral measures are taken on.
SPECTRAL_SIZE = 128
#: Window side as a multiple of the particle diameter (as the network view).
WINDOW_FACTOR = 1.25
#: High-frequency cut of :func:`high_frequency_power_fraction`, in cycles per particle diameter.
HF_CUT_KD = 10.0
#: The noise floor of :func:`spectral_measures` is at most this many decades below the power at k D ~ 2.
FLOOR_DECADES = 4.0
SPECTRAL_NAMES: tuple[str, ...] = (
    "hf_power_fraction", "spectral_resolution_kd", "spectral_resolution_nyquist", "spectral_slope",
    "ring_1", "ring_2", "ring_3", "ring_4", "edge_anisotropy",
)


def _window(image: np.ndarray, pixel_size: float | None, diameter_a: float | None) -> tuple[np.ndarray, float]:
    """Centred particle window (whole box when the diameter is unknown) and the diameter in its pixels."""
    box = image.shape[-1]
    if pixel_size and diameter_a and pixel_size > 0 and diameter_a > 0:
        d_px = diameter_a / pixel_size
        side = int(min(box, max(16, np.ceil(WINDOW_FACTOR * d_px))))
    else:
        side, d_px = box, 0.8 * box / WINDOW_FACTOR
    side -= side % 2
    start = (box - side) // 2
    return image[start:start + side, start:start + side].astype(np.float64), float(min(d_px, side))


def _fourier_crop(image: np.ndarray, size: int) -> np.ndarray:
    """Band-limit and resample a square image to ``size`` px (no-op when it is not larger)."""
    n = image.shape[0]
    if n <= size:
        return image
    f = fft.fftshift(fft.fft2(image))
    c, h = n // 2, size // 2
    return np.real(fft.ifft2(fft.ifftshift(f[c - h:c + h, c - h:c + h]))) * (size / n) ** 2


def spectral_view(image: np.ndarray, pixel_size: float | None, diameter_a: float | None) -> tuple[np.ndarray, float]:
    """The view the measures use: the particle window at <= ``SPECTRAL_SIZE`` px; diameter in its pixels."""
    window, d_px = _window(image, pixel_size, diameter_a)
    view = _fourier_crop(window, SPECTRAL_SIZE)
    return view, d_px * view.shape[0] / window.shape[0]


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.setflags(write=False)
    return arrays


@functools.lru_cache(maxsize=16)
def _grid(n: int) -> tuple[np.ndarray, ...]:
    """The geometry of an ``n x n`` view, computed once per size (every class of a job shares it;
    read-only): each pixel's distance from pixel ``n // 2`` and angle in [0, pi), its nearest shell,
    the pixels in shells within Nyquist, and each such shell's pixel count."""
    y, x = np.indices((n, n)) - n // 2
    distance = np.hypot(x, y)
    shell = np.round(distance).astype(int)
    keep = shell <= n // 2
    counts = np.bincount(shell[keep])
    return _read_only(distance, np.mod(np.arctan2(y, x), np.pi), shell, keep, counts)


@functools.lru_cache(maxsize=16)
def _disc(n: int, radius_px: float) -> np.ndarray:
    """:func:`.masks.soft_disc` of :func:`_masked` (read-only, once per size and radius)."""
    return _read_only(soft_disc(n, radius_px, max(2.0, 0.1 * radius_px)))[0]


def _masked(view: np.ndarray, radius_px: float) -> np.ndarray:
    """Mean-subtracted (over the disc) view times a soft disc of ``radius_px``."""
    n = view.shape[0]
    inside = _grid(n)[0] <= radius_px
    return (view - view[inside].mean()) * _disc(n, radius_px)


def _radial_power(masked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radial power spectrum (shells 0..n/2) and the power array with its shell index."""
    n = masked.shape[0]
    power = np.abs(fft.fftshift(fft.fft2(masked))) ** 2
    _, _, shell, keep, counts = _grid(n)
    radial = np.bincount(shell[keep], power[keep]) / np.maximum(counts, 1)
    return radial, power


def _in_mask_spectrum(image: np.ndarray, pixel_size: float | None, diameter_a: float | None):
    """(view, diameter in view pixels, radial power, 2D power, k D of each shell) of the masked particle."""
    view, d_px = spectral_view(image, pixel_size, diameter_a)
    radial, power = _radial_power(_masked(view, 0.5 * d_px))
    kd = np.arange(len(radial)) / view.shape[0] * d_px
    return view, d_px, radial, power, kd


def _hf_fraction(radial: np.ndarray, kd: np.ndarray) -> float:
    total = radial * 2 * np.pi * np.maximum(np.arange(len(radial)), 0.5)  # shell power x shell circumference
    low = total[kd >= 1.0].sum()
    return float(total[kd >= HF_CUT_KD].sum() / low) if low > 0 else 0.0


def high_frequency_power_fraction(image: np.ndarray, pixel_size: float | None = None,
                                  diameter_a: float | None = None) -> float:
    """Fraction of in-mask power at ``k D >= HF_CUT_KD`` among ``k D >= 1`` (the sharpness baseline)."""
    _, _, radial, _, kd = _in_mask_spectrum(image, pixel_size, diameter_a)
    return _hf_fraction(radial, kd)


def spectral_measures(image: np.ndarray, pixel_size: float | None, diameter_a: float | None) -> dict[str, float]:
    """All measures of one finite, non-constant 2D class image (see the module docstring)."""
    view, d_px, radial, power, kd = _in_mask_spectrum(image, pixel_size, diameter_a)
    n = view.shape[0]
    radius = 0.5 * d_px
    shells = np.arange(len(radial))
    out: dict[str, float] = {"hf_power_fraction": _hf_fraction(radial, kd)}
    log_p = np.log10(radial + 1e-30)
    outer = shells >= int(0.8 * (n // 2))
    floor = float(np.median(log_p[outer])) if outer.any() else float(log_p.min())
    # An up-sampled export (a figure) has empty outer shells: never count more than FLOOR_DECADES
    # below the power at k D ~ 2 as the floor.
    reference = log_p[(kd >= 1.5) & (kd <= 3.0)]
    if len(reference):
        floor = max(floor, float(np.median(reference)) - FLOOR_DECADES)
    above = np.flatnonzero((log_p > floor + 1.0) & (shells >= 1))
    # the highest shell of the first contiguous run above the floor
    last = 1
    for s in above:
        if s > last + 2:
            break
        last = int(s)
    out["spectral_resolution_kd"] = float(np.log10(max(last / n * d_px, 0.5)))
    out["spectral_resolution_nyquist"] = float(last / (n // 2))
    band = (kd >= 2) & (kd <= 12) & (radial > 0)
    if band.sum() >= 3:
        out["spectral_slope"] = float(np.polyfit(np.log10(kd[band]), log_p[band], 1)[0] / 4.0)
    else:
        out["spectral_slope"] = float("nan")
    distance, angle, shell, _, _ = _grid(n)
    r = distance / max(radius, 1.0)
    inside = r <= 1.0
    spread = float(view[inside].std()) or 1.0
    centred = (view - np.median(view[(r > 1.0) & (r <= 1.3)]) if ((r > 1.0) & (r <= 1.3)).any() else view - view.mean()) / spread
    for i, (a, b) in enumerate(((0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1.0), (1.0, 1.3)), start=1):
        ring = (r >= a) & (r < b)
        out[f"ring_{i}"] = float(np.clip(centred[ring].mean(), -5, 5)) if ring.any() else 0.0
    mid = (kd[np.minimum(shell, len(kd) - 1)] >= 3) & (distance <= n // 2)
    bins = np.minimum((angle[mid] / np.pi * 18).astype(int), 17)
    per_angle = np.bincount(bins, power[mid], minlength=18) / np.maximum(np.bincount(bins, minlength=18), 1)
    out["edge_anisotropy"] = float(np.log10(per_angle.max() / max(np.median(per_angle), 1e-30)))
    return out


def spectral_features(images: np.ndarray, usable: np.ndarray, dimensionality: int, pixel_size: float | None,
                      diameter_a: float | None) -> dict[str, np.ndarray]:
    """Measures of every class (2D image, or a 3D map's projection along z); NaN where unusable."""
    k = len(images)
    out = {name: np.full(k, np.nan) for name in SPECTRAL_NAMES}
    for i in np.flatnonzero(usable):
        image = images[i] if dimensionality == 2 else images[i].sum(axis=0)
        if not np.isfinite(image).all() or np.ptp(image) <= 0:
            continue
        for name, value in spectral_measures(image, pixel_size, diameter_a).items():
            out[name][i] = value
    return out
