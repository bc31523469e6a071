"""Simulated particle stacks: true particles and junk picks with CTF and noise, written in
RELION 3.1 format. The ground truth goes to a CSV beside the STAR file, never into it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .ctf import CtfParams
from .imaging import apply_optics, blob_transfer, crop_centre, normalise
from .kinds import GOOD_KIND, JUNK_KINDS, RenderContext, render
from .relion_files import image_names, write_star, write_stack
from .point_model import Structure

BATCH = 256


@dataclass
class ParticleConfig:
    """Acquisition and sample parameters of one simulated data set."""

    n_particles: int = 1000
    box: int = 48
    pixel_size: float = 3.0
    snr: float = 0.05
    voltage: float = 300.0
    cs: float = 2.7
    amplitude_contrast: float = 0.1
    defocus_range: tuple[float, float] = (8000.0, 25000.0)
    max_astigmatism: float = 600.0
    #: Physical envelope applied to the images; rlnCtfBfactor is written as 0 like CTFFIND.
    envelope_bfactor_range: tuple[float, float] = (40.0, 120.0)
    particles_per_micrograph: int = 40
    shift_sd_px: float = 1.5
    preferred_fraction: float = 0.0
    preferred_view: tuple[float, float] = (0.0, 90.0)
    #: Fraction of all picks per junk kind (see kinds.JUNK_KINDS); the rest are true particles.
    junk_fractions: dict[str, float] = field(default_factory=dict)
    #: Relative abundance of each structure among the true particles (and as junk source).
    structure_fractions: tuple[float, ...] | None = None
    stack_name: str = "Simulated/particles.mrcs"


@dataclass
class ParticleSet:
    """Images plus the RELION tables and the ground truth of a simulated data set."""

    images: np.ndarray
    optics: pd.DataFrame
    particles: pd.DataFrame
    truth: pd.DataFrame


def assign_counts(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Exact counts per kind from fractions (largest remainders), true particles fill the rest."""
    if sum(fractions.values()) >= 1:
        raise ValueError("junk fractions must sum to less than 1")
    raw = {k: n * f for k, f in fractions.items()}
    counts = {k: int(np.floor(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: counts[k] - raw[k])[: int(round(sum(raw.values()))) - sum(counts.values())]:
        counts[k] += 1
    return {GOOD_KIND: n - sum(counts.values()), **counts}


def kinds_and_structures(rng: np.random.Generator, cfg: ParticleConfig, n_structures: int) -> tuple[np.ndarray, np.ndarray]:
    counts = assign_counts(cfg.n_particles, cfg.junk_fractions)
    unknown = set(counts) - {GOOD_KIND, *JUNK_KINDS}
    if unknown:
        raise ValueError(f"unknown junk kinds {sorted(unknown)}")
    kinds = rng.permutation(np.repeat(list(counts), list(counts.values())))
    fr = np.asarray(cfg.structure_fractions or [1.0] * n_structures, float)
    sid = rng.choice(n_structures, size=cfg.n_particles, p=fr / fr.sum())
    return kinds, sid


def micrograph_ctfs(rng: np.random.Generator, cfg: ParticleConfig) -> tuple[np.ndarray, list[CtfParams], np.ndarray]:
    """Micrograph index, CTF and envelope B per particle (defocus varies slightly within a micrograph)."""
    n = cfg.n_particles
    mic = np.arange(n) // cfg.particles_per_micrograph
    n_mic = int(mic.max()) + 1
    base = rng.uniform(*cfg.defocus_range, n_mic)
    astig = rng.uniform(0, cfg.max_astigmatism, n_mic)
    angle = rng.uniform(-90, 90, n_mic)
    env = rng.uniform(*cfg.envelope_bfactor_range, n_mic)
    local = rng.normal(0, 100.0, n)
    ctfs = [CtfParams(base[m] + local[i] + astig[m] / 2, base[m] + local[i] - astig[m] / 2, angle[m], cfg.voltage,
                      cfg.cs, cfg.amplitude_contrast) for i, m in enumerate(mic)]
    return mic, ctfs, env[mic]


def simulate_particles(structures: list[Structure], cfg: ParticleConfig, seed: int) -> ParticleSet:
    """Simulate ``cfg.n_particles`` picks from ``structures`` (true particles and junk kinds)."""
    rng = np.random.default_rng(seed)
    kinds, sid = kinds_and_structures(rng, cfg, len(structures))
    mic, ctfs, env = micrograph_ctfs(rng, cfg)
    contexts = [RenderContext(s, cfg.pixel_size, cfg.box, cfg.shift_sd_px, cfg.preferred_fraction, cfg.preferred_view)
                for s in structures]
    blob = blob_transfer(2 * cfg.box, cfg.pixel_size, structures[0].blob_sigma)
    clean = np.empty((cfg.n_particles, cfg.box, cfg.box))
    truth_rows = []
    for start in range(0, cfg.n_particles, BATCH):
        idx = range(start, min(start + BATCH, cfg.n_particles))
        canvases = []
        for i in idx:
            img, info = render(str(kinds[i]), contexts[sid[i]], rng)
            canvases.append(img)
            truth_rows.append(info)
        blurred = apply_optics(np.asarray(canvases), cfg.pixel_size, [ctfs[i] for i in idx], blob, env[list(idx)])
        clean[start:start + len(idx)] = crop_centre(blurred, cfg.box)
    good = kinds == GOOD_KIND
    signal_var = clean[good].var(axis=(1, 2)).mean() if good.any() else clean.var(axis=(1, 2)).mean()
    sigma = np.sqrt(signal_var / cfg.snr)
    images = normalise(clean + rng.normal(0, sigma, clean.shape))
    optics, particles = relion_tables(cfg, mic, ctfs)
    truth = pd.DataFrame(truth_rows)
    truth.insert(0, "rlnImageName", particles["rlnImageName"])
    truth.insert(1, "kind", kinds)
    truth.insert(2, "structure_id", sid)
    truth.insert(3, "is_good", good.astype(int))
    truth["noise_sigma"] = sigma
    return ParticleSet(images, optics, particles, truth)


def relion_tables(cfg: ParticleConfig, mic: np.ndarray, ctfs: list[CtfParams]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``data_optics`` and ``data_particles`` tables (what RELION may see; no ground truth)."""
    optics = pd.DataFrame({
        "rlnOpticsGroup": [1], "rlnOpticsGroupName": ["opticsGroup1"],
        "rlnAmplitudeContrast": [cfg.amplitude_contrast], "rlnSphericalAberration": [cfg.cs],
        "rlnVoltage": [cfg.voltage], "rlnImagePixelSize": [cfg.pixel_size], "rlnImageSize": [cfg.box],
        "rlnImageDimensionality": [2],
    })
    particles = pd.DataFrame({
        "rlnImageName": image_names(cfg.stack_name, cfg.n_particles),
        "rlnMicrographName": [f"Micrographs/mic{m:04d}.mrc" for m in mic],
        "rlnDefocusU": [round(c.defocus_u, 2) for c in ctfs],
        "rlnDefocusV": [round(c.defocus_v, 2) for c in ctfs],
        "rlnDefocusAngle": [round(c.defocus_angle, 2) for c in ctfs],
        "rlnPhaseShift": 0.0, "rlnCtfBfactor": 0.0, "rlnOpticsGroup": 1,
    })
    return optics, particles


def write_particle_set(pset: ParticleSet, project: str | Path, stack_name: str = "Simulated/particles.mrcs") -> dict[str, Path]:
    """Write the stack, ``particles.star`` and ``particles_truth.csv`` under ``project``."""
    project = Path(project)
    stack = project / stack_name
    star = stack.with_suffix(".star")
    truth = stack.with_name(stack.stem + "_truth.csv")
    write_stack(stack, pset.images, float(pset.optics["rlnImagePixelSize"].iloc[0]))
    write_star(star, {"optics": pset.optics, "particles": pset.particles})
    pset.truth.to_csv(truth, index=False, float_format="%.4f")
    return {"stack": stack, "star": star, "truth": truth}
