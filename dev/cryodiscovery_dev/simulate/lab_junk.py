"""The junk kinds of the lab-like jobs: one small function per kind, each forming that kind's clean signal.

Junk as labs see it: ice and contamination, carbon edges, aggregates, neighbouring and clipped particles,
featureless blobs, noise attractors, streaky over-fitted classes, partly good mixtures, blurred classes of many
particles that do not average (heterogeneous or misaligned); ``stripes`` (parallel stripes, as in real streaked
classes) and ``aligned_noise`` (an average of pure-noise images aligned to noise, as real noise classes look) are
drawn only when a junk mix asks for them (:data:`ON_REQUEST_KINDS`). An empty class has no signal.

Each function returns (spectrum, purity, extra blur B in A^2) and takes its random draws from the job's
generator (``sim.rng``) in a fixed order, so a seed makes the same job.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage, special

from .lab_averaging import JobSimulator, shift_spectrum
from .lab_models import PointModel

#: Kinds of junk classes and how often a job's non-particle classes are of each kind.
JUNK_KINDS: dict[str, float] = {
    "ice": 0.09, "carbon_edge": 0.09, "aggregate": 0.10, "neighbours": 0.07, "clipped": 0.07,
    "blob": 0.12, "noise_attractor": 0.10, "streaky": 0.08, "mixed": 0.11, "misaligned": 0.13, "empty": 0.04,
}

#: Junk kinds with a signal that the default mix (:data:`JUNK_KINDS`) never draws: only a mix that names them
#: does, so the default corpus stays as it was.
ON_REQUEST_KINDS: tuple[str, ...] = ("stripes", "aligned_noise")

#: A junk kind's clean signal: (half-plane spectrum, purity, extra blur B in A^2).
JunkSignal = tuple[np.ndarray, float, float]


def _ice(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """Ice or contamination: a bright or dark disc with a lumpy edge, up to larger than the box."""
    rng, box = sim.rng, sim.spec.box
    centre = rng.uniform(-0.6, 0.6, 2) * box
    radius = rng.uniform(0.3, 0.9) * box
    blob = sim.smooth_noise(rng.uniform(2, 6)) * rng.uniform(0.5, 2.0)
    y, x = np.indices((box, box)) - box // 2
    dist = np.hypot(x - centre[0], y - centre[1]) + blob * radius * 0.1
    img = (dist < radius).astype(float) * scale * rng.uniform(2, 6) * rng.choice([-1, 1])
    return sim.spectrum(img), 0.0, float(rng.uniform(0, 200))


def _carbon_edge(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """A carbon edge: a soft, slightly curved step across the box; half the time a particle beside it."""
    rng, box = sim.rng, sim.spec.box
    angle = rng.uniform(0, np.pi)
    offset = rng.uniform(-0.4, 0.4) * box
    y, x = np.indices((box, box)) - box // 2
    d = x * np.cos(angle) + y * np.sin(angle) - offset
    d = d + rng.uniform(0, 0.004) * (x * np.sin(angle) - y * np.cos(angle)) ** 2  # slightly curved
    img = special.expit(d / rng.uniform(0.5, 2.0)) * scale * rng.uniform(1.5, 4)
    if rng.random() < 0.5:  # a particle next to the edge
        img = img + sim.real(sim.particle_signal(model, sim.random_rotation(), 8, 4)) * rng.uniform(0.2, 0.7)
    return sim.spectrum(img), 0.0, float(rng.uniform(0, 300))


def _aggregate(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """An aggregate: 3-8 blurred particles piled round the centre."""
    rng, r_p = sim.rng, sim.particle_radius_px
    n = int(rng.integers(3, 9))
    spread = r_p * rng.uniform(0.5, 1.2)
    spec = sum(shift_spectrum(sim.particle_signal(model, sim.random_rotation(), 20, 8, n_sub=2),
                              sim.grid, *rng.normal(0, spread, 2)) for _ in range(n))
    return spec / np.sqrt(n), 0.0, float(rng.uniform(300, 2500))


def _neighbours(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """A particle with 1-3 neighbours 1.6-2.3 radii away (purity 0.5)."""
    rng, r_p = sim.rng, sim.particle_radius_px
    spec = sim.particle_signal(model, sim.random_rotation(), rng.uniform(6, 15), rng.uniform(3, 8))
    for _ in range(int(rng.integers(1, 4))):
        ang = rng.uniform(0, 2 * np.pi)
        d = rng.uniform(1.6, 2.3) * r_p
        spec = spec + shift_spectrum(sim.particle_signal(model, sim.random_rotation(), 15, 6, n_sub=2),
                                     sim.grid, d * np.cos(ang), d * np.sin(ang)) * rng.uniform(0.5, 1.0)
    return spec, 0.5, float(rng.uniform(100, 800))


def _clipped(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """A particle far off centre, partly out of the box."""
    rng, box, r_p = sim.rng, sim.spec.box, sim.particle_radius_px
    ang = rng.uniform(0, 2 * np.pi)
    d = rng.uniform(0.6, 1.3) * r_p + rng.uniform(0.1, 0.3) * box
    spec = shift_spectrum(sim.particle_signal(model, sim.random_rotation(), rng.uniform(2, 8), 3),
                          sim.grid, d * np.cos(ang), d * np.sin(ang))
    return spec, 0.0, float(rng.uniform(0, 400))


def _blob(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """A featureless blob the size of the particle, lumpy as real junk blobs are."""
    rng, box, r_p = sim.rng, sim.spec.box, sim.particle_radius_px
    sig = r_p * rng.uniform(0.4, 0.8)
    axes = sig * rng.uniform(0.7, 1.3, 2)
    y, x = np.indices((box, box)) - box // 2
    t = rng.uniform(0, np.pi)
    u, v = x * np.cos(t) + y * np.sin(t), -x * np.sin(t) + y * np.cos(t)
    img = np.exp(-0.5 * ((u / axes[0]) ** 2 + (v / axes[1]) ** 2) ** rng.uniform(1, 3)) * scale * 0.6
    # real junk blobs are lumpy: a smooth field of lobes modulates the density
    lobes = sim.smooth_noise(r_p * rng.uniform(0.15, 0.4))
    img = img * (1 + rng.uniform(0.3, 1.2) * lobes / max(lobes.std(), 1e-12))
    return sim.spectrum(img), 0.0, float(rng.uniform(800, 5000))


def _noise_attractor(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """A noise attractor: faint rings (a random walk of radial levels) in a disc a bit wider than the particle."""
    rng, r_p = sim.rng, sim.particle_radius_px
    radial = np.cumsum(rng.normal(0, 1, 8))
    r = np.clip(sim.radius_px / (r_p * 1.3) * 7, 0, 7)
    img = np.interp(r, np.arange(8), radial - radial[-1]) * (r < 7) * scale * 0.1
    return sim.spectrum(img), 0.0, float(rng.uniform(600, 3000))


def _streaky(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """Over-fitted noise: speckle in a particle-sized patch, sometimes streaked."""
    rng, box, r_p = sim.rng, sim.spec.box, sim.particle_radius_px
    noise = sim.smooth_noise(rng.uniform(0.6, 1.5))
    if rng.random() < 0.3:
        streak = ndimage.gaussian_filter1d(rng.normal(0, 1, (box, box)), rng.uniform(4, 15), axis=0)
        noise = noise / max(noise.std(), 1e-12) + ndimage.rotate(streak, rng.uniform(0, 180), reshape=False,
                                                                 mode="wrap") / max(streak.std(), 1e-12)
    envelope = np.exp(-0.5 * (sim.radius_px / (r_p * rng.uniform(0.5, 0.9))) ** 4)
    lump = np.exp(-0.5 * (sim.radius_px / (r_p * rng.uniform(0.3, 0.7))) ** 2) * rng.uniform(0, 1.5)
    img = (noise / max(noise.std(), 1e-12) * envelope + lump) * scale * rng.uniform(0.5, 2)
    return sim.spectrum(img), 0.0, 0.0


def _stripes(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """Parallel stripes over all or part of the disc, as in real streaked classes; sometimes a faint particle
    under them."""
    rng, box = sim.rng, sim.spec.box
    angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    y, x = np.indices((box, box)) - box // 2
    u, v = x * np.cos(angle) + y * np.sin(angle), -x * np.sin(angle) + y * np.cos(angle)
    img = np.sin(2 * np.pi * u / (box * rng.uniform(0.06, 0.2)) + phase)
    if rng.random() < 0.6:  # a band or a side of the disc only
        img = img * special.expit((v - rng.uniform(-0.4, 0.3) * box) / rng.uniform(1, 4))
    patchy = sim.smooth_noise(box * rng.uniform(0.05, 0.15))
    img = img * (1 + rng.uniform(0.3, 1.0) * patchy / max(patchy.std(), 1e-12)) * scale * rng.uniform(0.4, 2)
    if rng.random() < 0.3:  # a faint particle under the stripes
        img = img + sim.real(sim.particle_signal(model, sim.random_rotation(), 10, 4)) * rng.uniform(0.2, 0.5)
    return sim.spectrum(img), 0.0, float(rng.uniform(0, 200))


def _aligned_noise(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """Pure-noise images aligned to noise and averaged (a RELION noise class, issue #23): cloudy speckle of two
    scales filling the disc out past the mask, brighter specks than dark ones (positive skew), a soft central
    excess (what the noise was aligned to), often bright crescents cut by the mask at the rim (neighbours'
    density at the box edge, aligned), and now and then a point-like hot spot on a near-featureless field.
    Set against the real noise classes of three real sets (docs/model_card_notes.md, section 9c)."""
    rng, box, r_p = sim.rng, sim.spec.box, sim.particle_radius_px
    r = sim.radius_px
    coarse = sim.smooth_noise(r_p * rng.uniform(0.2, 0.45))
    fine = sim.smooth_noise(r_p * rng.uniform(0.06, 0.14))
    field = coarse / max(coarse.std(), 1e-12) + rng.uniform(0.2, 0.8) * fine / max(fine.std(), 1e-12)
    speckle = np.exp(rng.uniform(0.2, 0.5) * field / max(field.std(), 1e-12))  # bright specks: positive skew
    img = (speckle - speckle.mean()) / max(speckle.std(), 1e-12)
    img = img + np.exp(-0.5 * (r / (r_p * rng.uniform(0.3, 0.7))) ** 2) * rng.uniform(0.7, 2.2)
    if rng.random() < 0.7:  # bright crescents at the rim, cut by the mask
        y, x = np.indices((box, box)) - box // 2
        for _ in range(int(rng.integers(1, 4))):
            ang, d = rng.uniform(0, 2 * np.pi), r_p * rng.uniform(0.95, 1.3)
            width = r_p * rng.uniform(0.2, 0.45)
            spot = ((x - d * np.cos(ang)) ** 2 + (y - d * np.sin(ang)) ** 2) / width**2
            img = img + rng.uniform(1.5, 4.0) * np.exp(-0.5 * spot)
    if rng.random() < 0.1:  # a point-like hot spot on a near-featureless field
        img = img * rng.uniform(0.05, 0.3) + 4.0 * np.exp(-0.5 * (r / rng.uniform(0.7, 1.5)) ** 2)
    return sim.spectrum(img * scale * rng.uniform(0.3, 1.0)), 0.0, float(rng.uniform(100, 1200))


def _misaligned(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """Many particles that do not average (heterogeneous, damaged or poorly aligned): a blurred view (purity 1)."""
    rng = sim.rng
    spec = sim.particle_signal(model, sim.random_rotation(model), rng.uniform(6, 25),
                               rng.uniform(2, 6) * sim.spec.pixel_size)
    return sim.recentre(spec), 1.0, float(rng.uniform(0, 600))


def _mixed(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """A mixture: a share ``purity`` (0.3-1) of one view, the rest another structure's blurred views."""
    rng = sim.rng
    purity = float(rng.uniform(0.3, 1.0))
    rot = sim.random_rotation(model)
    good = sim.recentre(sim.particle_signal(model, rot, rng.uniform(0.5, 3), rng.uniform(1, 3)))
    other_model = sim.models[int(rng.integers(len(sim.models)))]
    other = sim.particle_signal(other_model, sim.random_rotation(), 10, 5)
    return purity * good + (1 - purity) * other, purity, float(rng.uniform(0, 150))


def _empty(sim: JobSimulator, model: PointModel, scale: float) -> JunkSignal:
    """An empty class (no particles; :meth:`.lab_averaging.JobSimulator.average` gives it faint noise)."""
    return np.zeros_like(sim.grid.k, dtype=complex), 0.0, 0.0


#: The signal of each junk kind.
JUNK_SIGNALS: dict[str, Callable[[JobSimulator, PointModel, float], JunkSignal]] = {
    "ice": _ice,
    "carbon_edge": _carbon_edge,
    "aggregate": _aggregate,
    "neighbours": _neighbours,
    "clipped": _clipped,
    "blob": _blob,
    "noise_attractor": _noise_attractor,
    "streaky": _streaky,
    "stripes": _stripes,
    "aligned_noise": _aligned_noise,
    "misaligned": _misaligned,
    "mixed": _mixed,
    "empty": _empty,
}


def junk_signal(sim: JobSimulator, kind: str, model: PointModel, scale: float) -> JunkSignal:
    """(spectrum, purity, extra blur B) of a junk class's clean signal; ``scale``: the particle's mean density."""
    if kind not in JUNK_SIGNALS:
        raise ValueError(f"unknown junk kind {kind!r}; choose from {sorted(JUNK_SIGNALS)}")
    return JUNK_SIGNALS[kind](sim, model, scale)
