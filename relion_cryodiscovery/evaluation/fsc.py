"""Fourier shell (ring) correlation between two maps and reconstruction with relion_reconstruct.

Shells are one Fourier pixel wide: shell ``i`` holds frequencies with ``round(|k|) == i`` (|k| in
Fourier pixels), for ``i = 0 .. N//2``. Shell ``i`` is at spatial frequency ``i / (N * angpix)``
in 1/Angstrom. Works for cubic 3D maps (FSC) and square 2D images (FRC).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relion_cryodiscovery.errors import CryoDiscoveryError


@dataclass
class FSCCurve:
    """FSC per shell: ``frequency`` (1/A), ``fsc`` and number of Fourier voxels per shell."""

    frequency: np.ndarray
    fsc: np.ndarray
    counts: np.ndarray
    pixel_size: float

    def resolution(self, threshold: float) -> float:
        """Resolution in Angstrom where the FSC first drops below ``threshold`` (interpolated).

        Returns the Nyquist resolution (2 * angpix) when the curve never drops below it,
        and NaN when it is already below at the first shell beyond the origin.
        """
        f, c = self.frequency[1:], self.fsc[1:]
        below = np.nonzero(c < threshold)[0]
        if below.size == 0:
            return 2.0 * self.pixel_size
        j = int(below[0])
        if j == 0:
            return math.nan
        f0, f1, c0, c1 = f[j - 1], f[j], c[j - 1], c[j]
        crossing = f0 + (c0 - threshold) * (f1 - f0) / (c0 - c1)
        return float(1.0 / crossing)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary with the 0.143 and 0.5 resolutions and the curve."""
        return {
            "resolution_0143": _finite(self.resolution(0.143)),
            "resolution_05": _finite(self.resolution(0.5)),
            "frequency": [float(x) for x in self.frequency],
            "fsc": [_finite(x) for x in self.fsc],
        }


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def shell_index(shape: tuple[int, ...]) -> np.ndarray:
    """Integer shell of every coefficient of an ``rfftn`` of ``shape`` (cube/square only)."""
    n = shape[0]
    if any(s != n for s in shape):
        raise ValueError(f"FSC needs a cubic or square map, got {shape}")
    freqs = [np.fft.fftfreq(n) * n for _ in shape[:-1]] + [np.fft.rfftfreq(n) * n]
    grids = np.meshgrid(*freqs, indexing="ij")
    return np.rint(np.sqrt(sum(g ** 2 for g in grids))).astype(np.int64)


def fsc(map1: np.ndarray, map2: np.ndarray, pixel_size: float, mask: np.ndarray | None = None) -> FSCCurve:
    """FSC between two maps (optionally both multiplied by ``mask``) up to Nyquist."""
    a, b = np.asarray(map1, dtype=np.float64), np.asarray(map2, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"maps differ in shape: {a.shape} vs {b.shape}")
    if pixel_size <= 0:
        raise ValueError("pixel size must be positive")
    if mask is not None:
        a, b = a * mask, b * mask
    fa, fb = np.fft.rfftn(a), np.fft.rfftn(b)
    n = a.shape[0]
    # rfft stores half the spectrum: count coefficients that stand for a conjugate pair twice
    last = np.arange(fa.shape[-1])
    weight = np.broadcast_to(np.where((last == 0) | (2 * last == n), 1.0, 2.0), fa.shape).ravel()
    shells = shell_index(a.shape).ravel()
    n_shells = n // 2 + 1
    keep = shells < n_shells
    s, weight = shells[keep], weight[keep]
    fa, fb = fa.ravel()[keep], fb.ravel()[keep]
    cross = np.bincount(s, weights=weight * np.real(fa * np.conj(fb)), minlength=n_shells)
    p1 = np.bincount(s, weights=weight * np.abs(fa) ** 2, minlength=n_shells)
    p2 = np.bincount(s, weights=weight * np.abs(fb) ** 2, minlength=n_shells)
    counts = np.bincount(s, weights=weight, minlength=n_shells)
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = cross / np.sqrt(p1 * p2)
    frequency = np.arange(n_shells) / (n * pixel_size)
    return FSCCurve(frequency, curve, counts, float(pixel_size))


def has_3d_angles(columns: list[str] | tuple[str, ...]) -> bool:
    """True when a particle table carries the angles a 3D reconstruction needs."""
    return {"rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"} <= set(columns)


def relion_reconstruct_available() -> bool:
    """Whether ``relion_reconstruct`` is on PATH."""
    return shutil.which("relion_reconstruct") is not None


def reconstruct_with_relion(
    particles_star: str | Path,
    out_map: str | Path,
    angpix: float | None = None,
    sym: str = "C1",
    ctf: bool = True,
    maxres: float | None = None,
    cwd: str | Path | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 3600.0,
) -> Path | None:
    """Run ``relion_reconstruct --i ... --o ... [--ctf] [--angpix]``; None when it is not on PATH.

    ``cwd`` should be the RELION project directory (image paths in the STAR file are relative
    to it). Raises :class:`CryoDiscoveryError` with the last error line when RELION fails.
    """
    exe = shutil.which("relion_reconstruct")
    if exe is None:
        return None
    out_map = Path(out_map).resolve()
    out_map.parent.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "--i", str(Path(particles_star).resolve()), "--o", str(out_map), "--sym", sym]
    if ctf:
        cmd.append("--ctf")
    if angpix:
        cmd += ["--angpix", f"{angpix:g}"]
    if maxres:
        cmd += ["--maxres", f"{maxres:g}"]
    cmd += list(extra_args)
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise CryoDiscoveryError(particles_star, f"relion_reconstruct timed out after {timeout:g} s") from exc
    if proc.returncode != 0 or not out_map.is_file():
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else "no output"
        raise CryoDiscoveryError(particles_star, f"relion_reconstruct failed: {last}")
    return out_map
