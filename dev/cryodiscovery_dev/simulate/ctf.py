"""Contrast transfer function in RELION's convention (``ctf.h``, RELION 3.1).

Defocus values are positive for underfocus, in Angstrom; the astigmatism angle is in degrees
from the x axis; Cs is in mm; the B-factor in A^2. The CTF is positive at low frequency, so
protein appears white as in RELION's contrast-inverted particle images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CtfParams:
    """One particle's CTF parameters (RELION labels in comments)."""

    defocus_u: float  # rlnDefocusU, A
    defocus_v: float  # rlnDefocusV, A
    defocus_angle: float = 0.0  # rlnDefocusAngle, deg
    voltage: float = 300.0  # rlnVoltage, kV
    cs: float = 2.7  # rlnSphericalAberration, mm
    amplitude_contrast: float = 0.1  # rlnAmplitudeContrast
    bfactor: float = 0.0  # rlnCtfBfactor, A^2
    phase_shift: float = 0.0  # rlnPhaseShift, deg


def electron_wavelength(voltage_kv: float) -> float:
    """Relativistic electron wavelength in A."""
    v = voltage_kv * 1e3
    return 12.2643247 / np.sqrt(v * (1.0 + v * 0.978466e-6))


def frequency_grid(box: int, pixel_size: float, half: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(kx, ky) in 1/A on the unshifted FFT grid of a box x box image, indexed (y, x);
    ``half`` gives the grid of ``rfft2`` (x frequencies 0..box/2 only)."""
    fy = np.fft.fftfreq(box, d=pixel_size)
    fx = np.fft.rfftfreq(box, d=pixel_size) if half else fy
    return np.meshgrid(fx, fy, indexing="xy")


def ctf_values(kx: np.ndarray, ky: np.ndarray, p: CtfParams) -> np.ndarray:
    """CTF at spatial frequencies (kx, ky) in 1/A."""
    lam = electron_wavelength(p.voltage)
    k1 = np.pi * lam
    k2 = np.pi / 2 * p.cs * 1e7 * lam**3
    k3 = np.arctan(p.amplitude_contrast / np.sqrt(1 - p.amplitude_contrast**2))
    k5 = np.deg2rad(p.phase_shift)
    u2 = kx**2 + ky**2
    ang = np.arctan2(ky, kx)
    deltaf = -0.5 * (p.defocus_u + p.defocus_v) - 0.5 * (p.defocus_u - p.defocus_v) * np.cos(2 * (ang - np.deg2rad(p.defocus_angle)))
    arg = k1 * deltaf * u2 + k2 * u2 * u2 - k5 - k3
    return -np.sin(arg) * np.exp(-p.bfactor / 4.0 * u2)


def ctf_2d(box: int, pixel_size: float, p: CtfParams) -> np.ndarray:
    """CTF on the full FFT grid of a box x box image (multiply with ``np.fft.fft2``)."""
    kx, ky = frequency_grid(box, pixel_size)
    return ctf_values(kx, ky, p)


def ctf_zero_frequencies(p: CtfParams, n_zeros: int = 3) -> np.ndarray:
    """Frequencies (1/A) of the first zeros along the defocus-U direction (no astigmatism term)."""
    lam = electron_wavelength(p.voltage)
    k3 = np.arctan(p.amplitude_contrast / np.sqrt(1 - p.amplitude_contrast**2))
    a, b = np.pi / 2 * p.cs * 1e7 * lam**3, -np.pi * lam * p.defocus_u
    zeros = []
    for n in range(1, n_zeros + 1):
        # The phase a*u2^2 + b*u2 - k3 - k5 falls from -k3: zeros where it reaches -n*pi.
        c = n * np.pi - k3 - np.deg2rad(p.phase_shift)
        u2 = -c / b if a == 0 else (-b - np.sqrt(b * b - 4 * a * c)) / (2 * a)
        zeros.append(np.sqrt(u2))
    return np.array(zeros)
