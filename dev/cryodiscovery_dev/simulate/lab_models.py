"""The committed atomic models as the lab-like class averages see them: weighted points with one form factor.

A :class:`PointModel` is a :class:`~.point_model.Structure` (the one point type of the simulators) whose
points carry each atom's full electron f_e(0) with its riding hydrogens, and which is blurred not by one
Gaussian but by the weight-averaged 5-Gaussian form factor of its atoms, in Fourier space
(:func:`.lab_averaging.project`). A membrane protein carries its detergent micelle as pseudo-atoms.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .atomic import (ELEMENTS, PENG_ELECTRON, atomic_model_names, catalog, effective_blob_sigma, load_model,
                     scattering_weights)
from .point_model import Structure

#: Detergent density relative to protein (micelles round membrane proteins).
MICELLE_DENSITY = 0.35
#: Smaller particles are not imaged by single-particle cryo-EM in practice; they are left out of jobs.
MIN_MASS_KDA = 15.0


@dataclass
class PointModel(Structure):
    """Scatterers of one committed model: ``coords`` (A, centred on the scattering), f_e(0) ``weights``,
    ``domains`` (its chains; a micelle is one domain more), the mean form factor's shape, and what a job
    draws from it (name, shape, diameter, long axis). ``blob_sigma`` is the Gaussian the particle simulator
    would blur the atoms with (:func:`.atomic.effective_blob_sigma`), for :meth:`render`."""

    name: str = ""
    #: (a_i, b_i) of the weight-averaged 5-Gaussian form factor, normalised to 1 at k = 0.
    form_a: np.ndarray = field(default_factory=lambda: np.ones(1))
    form_b: np.ndarray = field(default_factory=lambda: np.zeros(1))
    shape: str = "globular"
    diameter_a: float = 0.0
    #: Unit vector of the longest principal axis (filaments are seen side on).
    axis: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0, 0.0]))

    @property
    def xyz(self) -> np.ndarray:
        """The points (A), as ``coords``."""
        return self.coords

    def form_factor(self, k: np.ndarray, bfactor: float) -> np.ndarray:
        s2 = (k / 2.0) ** 2
        return sum(a * np.exp(-(b + bfactor) * s2) for a, b in zip(self.form_a, self.form_b))


def _principal_axis(xyz: np.ndarray) -> np.ndarray:
    """Unit vector of the longest principal axis of points (from at most ~4,000 of them)."""
    sample = xyz[:: max(1, len(xyz) // 4000)]
    return np.linalg.svd(sample - sample.mean(0), full_matrices=False)[2][0]


def _micelle_points(xyz: np.ndarray, rng: np.random.Generator, protein_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-atoms of a detergent micelle: an oblate ellipsoidal shell round the model's
    principal (longest) axis at its densest slab, density ``MICELLE_DENSITY`` of protein."""
    centred = xyz - xyz.mean(0)
    axis = _principal_axis(xyz)
    height = centred @ axis
    hist, edges = np.histogram(height, bins=12)
    slab = 0.5 * (edges[np.argmax(hist)] + edges[np.argmax(hist) + 1])
    in_slab = np.abs(height - slab) < 15
    radial = np.linalg.norm(centred[in_slab] - np.outer(height[in_slab], axis), axis=1)
    r_out = float(np.percentile(radial, 90)) + 12.0 if in_slab.any() else 30.0
    half_thickness = 17.0
    n = int(np.clip(4.0 * r_out**2 * half_thickness * 0.02, 500, 40000))
    u = rng.uniform(-1, 1, (n * 3, 3))
    u = u[(u**2).sum(1) <= 1][:n]
    basis = np.linalg.svd(np.eye(3) - np.outer(axis, axis))[0][:, :2]
    pts = (u[:, :2] * r_out) @ basis.T + np.outer(u[:, 2] * half_thickness + slab, axis) + xyz.mean(0)
    # protein ~ 0.8 Da/A^3 (~1/135 heavy atoms per A^3); detergent fills the shell at MICELLE_DENSITY.
    volume = 4 / 3 * np.pi * r_out**2 * half_thickness
    w = np.full(len(pts), MICELLE_DENSITY * protein_weight * volume / 135.0 / max(len(pts), 1))
    return pts, w


@lru_cache(maxsize=None)
def point_model(name: str) -> PointModel:
    """The committed atomic model ``name`` as weighted points (cached per process)."""
    m = load_model(name)
    w = scattering_weights(m.element, m.n_hydrogen)
    counts = np.bincount(m.element, minlength=len(ELEMENTS)).astype(float)
    counts[0] += m.n_hydrogen.sum()
    a = sum(c * np.array(PENG_ELECTRON[e][0]) for e, c in zip(ELEMENTS, counts) if c)
    b_sum = sum(c * np.array(PENG_ELECTRON[e][0]) * np.array(PENG_ELECTRON[e][1]) for e, c in zip(ELEMENTS, counts) if c)
    b = b_sum / np.maximum(a, 1e-12)  # weight-averaged Gaussian widths (a good fit up to ~1/3 A^-1)
    total = a.sum()
    xyz = m.xyz - (m.xyz * w[:, None]).sum(0) / w.sum()
    shape = str(catalog()[name].get("shape", "globular"))
    domains = m.chain
    if shape == "membrane":
        # seeded by the name's CRC-32: Python's hash() of a str differs between processes
        pts, pw = _micelle_points(xyz, np.random.default_rng(zlib.crc32(name.encode())), float(w.mean()))
        xyz, w = np.concatenate([xyz, pts]), np.concatenate([w, pw])
        domains = np.concatenate([domains, np.full(len(pts), domains.max() + 1)])
    diameter = 2.0 * float(np.percentile(np.linalg.norm(xyz, axis=1), 99.5))
    return PointModel(xyz.astype(np.float64), w, domains, blob_sigma=effective_blob_sigma(m.element, m.n_hydrogen),
                      provenance={"kind": "atomic", "model": name, **m.info}, name=name, form_a=a / total,
                      form_b=b, shape=shape, diameter_a=diameter, axis=_principal_axis(xyz))


def model_pool(exclude: tuple[str, ...] = ()) -> list[str]:
    """Atomic models available for jobs (at least ``MIN_MASS_KDA``; optionally without some)."""
    return [n for n in atomic_model_names() if n not in exclude and catalog()[n]["mass_kda"] >= MIN_MASS_KDA]
