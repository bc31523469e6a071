"""Inputs that are not cryo-EM class averages, as jobs: probes for the out-of-domain check.

Each kind makes a :class:`ClassSet` of ``n`` images that a person would not mistake for class
averages: checkerboards and linear ramps (several scales and angles), Gaussian noise, constant
images, crops of scikit-image's bundled photographs and text, and raw micrograph-like patches of
ice, carbon and empty ice (single noisy picks with a CTF, no averaging, no particle). Sizes, pixel
sizes and whether the "job" carries a pixel size and mask diameter are drawn per job, so the probes
cover RELION jobs and bare stacks alike. Every choice comes from ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from relion_cryodiscovery.relion.classes import ClassSet
from .ctf import CtfParams
from .imaging import apply_optics, blob_transfer, crop_centre, normalise
from .kinds import RenderContext, render

#: Kinds of non-class-average inputs (:func:`probe_job`).
PROBE_KINDS: tuple[str, ...] = ("checkerboard", "ramp", "noise", "constant", "camera", "coins", "moon", "text",
                                "micrograph_ice", "micrograph_carbon", "micrograph_empty")


def _grid(box: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.indices((box, box), dtype=float) - box / 2.0
    return y, x


def checkerboard(rng: np.random.Generator, box: int) -> np.ndarray:
    """A checkerboard of period 4 px to the box, at a random angle and phase."""
    y, x = _grid(box)
    period = float(np.exp(rng.uniform(np.log(4.0), np.log(box))))
    t = rng.uniform(0, np.pi / 2)
    u, v = x * np.cos(t) + y * np.sin(t), -x * np.sin(t) + y * np.cos(t)
    phase = rng.uniform(0, period, 2)
    board = (np.floor((u + phase[0]) / (period / 2)) + np.floor((v + phase[1]) / (period / 2))) % 2
    return board * rng.uniform(0.5, 255) + rng.uniform(-100, 100)


def ramp(rng: np.random.Generator, box: int) -> np.ndarray:
    """A linear ramp at a random angle, slope and offset."""
    y, x = _grid(box)
    t = rng.uniform(0, 2 * np.pi)
    return (x * np.cos(t) + y * np.sin(t)) * rng.uniform(0.01, 5.0) + rng.uniform(-100, 100)


def gaussian_noise(rng: np.random.Generator, box: int) -> np.ndarray:
    """White Gaussian noise."""
    return rng.normal(rng.uniform(-10, 10), rng.uniform(0.1, 50), (box, box))


def constant(rng: np.random.Generator, box: int) -> np.ndarray:
    """A constant image (zero or any value)."""
    return np.full((box, box), 0.0 if rng.random() < 0.3 else rng.uniform(-100, 255))


def _photo(name: str) -> Callable[[np.random.Generator, int], np.ndarray]:
    def crop(rng: np.random.Generator, box: int) -> np.ndarray:
        """A random square crop of a bundled scikit-image picture, rescaled to the box."""
        from skimage import data

        picture = np.asarray(getattr(data, name)(), float)
        side = int(rng.integers(min(48, min(picture.shape)), min(picture.shape) + 1))
        y0 = int(rng.integers(0, picture.shape[0] - side + 1))
        x0 = int(rng.integers(0, picture.shape[1] - side + 1))
        patch = picture[y0:y0 + side, x0:x0 + side]
        patch = ndimage.zoom(patch, box / side, order=1)[:box, :box]
        if patch.shape != (box, box):
            patch = np.pad(patch, [(0, box - patch.shape[0]), (0, box - patch.shape[1])], mode="edge")
        return np.rot90(patch, int(rng.integers(4)))

    crop.__name__ = name
    return crop


def _micrograph_patches(kind: str, rng: np.random.Generator, box: int, n: int) -> tuple[np.ndarray, float]:
    """Raw picks of ``kind`` (ice, carbon, empty) as a micrograph holds them: CTF, envelope and
    particle-level noise (SNR 0.01-0.1 against the junk's own signal), normalised as RELION extracts;
    and the pixel size (the box is 1.4-2.5 times the diameter of the particle the picker looked for)."""
    from .structures import make_structure

    structure = make_structure("globular", float(rng.uniform(100, 800)), int(rng.integers(2**31)))
    pixel_size = round(float(2 * structure.radius / (box * rng.uniform(0.4, 0.7))), 3)
    ctx = RenderContext(structure, pixel_size, box)
    canvases = np.stack([render(kind, ctx, rng)[0] for _ in range(n)])
    defocus = rng.uniform(8000, 30000, n)
    ctfs = [CtfParams(d, d * rng.uniform(0.98, 1.02), rng.uniform(0, 180)) for d in defocus]
    blob = blob_transfer(2 * box, pixel_size, structure.blob_sigma)
    clean = crop_centre(apply_optics(canvases, pixel_size, ctfs, blob, rng.uniform(40, 150, n)), box)
    level = ctx.level**2 * 0.05  # a particle's signal variance, roughly, for the noise level
    sigma = np.sqrt(max(float(clean.var(axis=(1, 2)).mean()), level) / rng.uniform(0.01, 0.1))
    return normalise(clean + rng.normal(0, sigma, clean.shape)), pixel_size


MAKERS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "checkerboard": checkerboard, "ramp": ramp, "noise": gaussian_noise, "constant": constant,
    **{name: _photo(name) for name in ("camera", "coins", "moon", "text")},
}


def probe_job(kind: str, n: int, seed: int) -> ClassSet:
    """A "job" of ``n`` images of ``kind`` (:data:`PROBE_KINDS`), as a bare stack or with a pixel size
    and mask diameter (drawn from ``seed``)."""
    if kind not in PROBE_KINDS:
        raise ValueError(f"unknown probe kind {kind!r}; choose from {PROBE_KINDS}")
    rng = np.random.default_rng([seed, PROBE_KINDS.index(kind)])
    box = int(2 * rng.integers(32, 129))
    pixel_size = round(float(np.exp(rng.uniform(np.log(0.8), np.log(4.5)))), 3)
    if kind.startswith("micrograph_"):
        images, pixel_size = _micrograph_patches(kind.split("_", 1)[1], rng, box, n)
    else:
        images = np.stack([MAKERS[kind](rng, box) for _ in range(n)])
    with_geometry = rng.random() < 0.5
    diameter = float(box * pixel_size * rng.uniform(0.45, 0.75)) if with_geometry else None
    return ClassSet(dimensionality=2, class_numbers=np.arange(1, n + 1), images=images.astype(np.float32),
                    pixel_size=pixel_size if with_geometry or rng.random() < 0.5 else None,
                    particle_diameter=diameter, source=f"probe {kind} seed {seed}")
