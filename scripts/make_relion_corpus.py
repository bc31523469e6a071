#!/usr/bin/env python3
"""Real RELION class averages for held-out evaluation: a batch of small Class2D runs.

    python scripts/make_relion_corpus.py --out corpus/relion --n 8 --seed 1000

Each project is built like the bundled example (simulated particles -> Debian's relion_refine 3.1.3
Class2D through relion_pipeliner -> a Select job made from the ground truth), with its structure,
size, SNR, junk mix and number of classes drawn from ``--seed``. Only compact outputs are kept
(the last iteration's STAR files and class stack, ground truth, Select job); the particle stacks
are deleted, so a project is about 0.5 MB and the batch can be committed. Projects that already
exist are skipped, so a batch can be extended across sessions.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from cryodiscovery_dev.simulate.atomic import LEGACY_MODEL_NAMES, catalog
from cryodiscovery_dev.simulate.particles import ParticleConfig
from cryodiscovery_dev.relion_class2d import ExampleConfig, build_example
from cryodiscovery_dev.simulate.structures import STRUCTURE_KINDS, SYMMETRIES, make_structure


#: Seeds from here on draw the cheaper sampling below and are compacted harder (see ``compact``).
CHEAP_FROM_SEED = 1040
#: Seeds from here on draw a real atomic model (one of those >= 30 kDa) for about a third of the projects.
ATOMIC_FROM_SEED = 1100
ATOMIC_SHARE = 0.35
ATOMIC_MIN_KDA = 30.0


def atomic_choice(seed: int) -> str | None:
    """``atomic:<name>`` for a third of the seeds from ATOMIC_FROM_SEED on, else None.

    Drawn from its own generator, so the rest of a seed's configuration is the same either way.
    """
    if seed < ATOMIC_FROM_SEED:
        return None
    rng = np.random.default_rng([seed, 1])
    if rng.uniform() >= ATOMIC_SHARE:
        return None
    names = sorted(name for name, entry in catalog().items()
                   if entry["mass_kda"] >= ATOMIC_MIN_KDA and name in LEGACY_MODEL_NAMES)
    return f"atomic:{names[int(rng.integers(len(names)))]}"


def random_config(seed: int) -> ExampleConfig:
    """A varied but cheap Class2D set-up (a few minutes on 2 cores; ~30-60 s from seed 1040 on)."""
    if seed >= CHEAP_FROM_SEED:
        return cheap_config(seed)
    rng = np.random.default_rng(seed)
    kind = str(rng.choice(STRUCTURE_KINDS))
    junk_total = float(rng.uniform(0.15, 0.5))
    kinds = ["empty", "ice", "carbon", "aggregate", "clipped", "fragment"]
    shares = rng.dirichlet(np.ones(len(kinds)))
    particles = ParticleConfig(
        n_particles=int(rng.integers(600, 900)), box=int(rng.choice([40, 48, 56])),
        pixel_size=float(np.round(rng.uniform(2.5, 4.0), 2)), snr=float(np.round(rng.uniform(0.03, 0.12), 3)),
        voltage=float(rng.choice([200.0, 300.0])), particles_per_micrograph=40,
        preferred_fraction=float(rng.choice([0.0, 0.0, 0.5])),
        junk_fractions={k: round(junk_total * s, 3) for k, s in zip(kinds, shares)},
    )
    return ExampleConfig(
        seed=seed, structure_kind=kind, structure_symmetry=str(rng.choice(SYMMETRIES)) if kind == "symmetric" else None,
        mass_kda=float(np.round(np.exp(rng.uniform(np.log(120), np.log(600))), 0)), particles=particles,
        n_classes=int(rng.integers(8, 15)), n_iter=12, threads=2,
    )


def cheap_config(seed: int) -> ExampleConfig:
    """Small jobs sampled like a lab's quick first round, boxed like a lab's binned particles.

    Cost per class is set by the particles per job, so jobs are small (400-700 picks, 10-16
    classes) and sampled as coarsely as a lab's quick pass: psi 6 or 12 degrees, offset step 1 or
    2 px (RELION's GUI defaults are 6 and 1). The box stays small (40 or 48 px) but the pixel size
    is chosen so the box is 1.4-2.2x the particle's largest diameter, as in binned lab data (the
    older seeds let the particle fill the box). 12 iterations as before.
    """
    rng = np.random.default_rng(seed)
    kind = str(rng.choice(STRUCTURE_KINDS))
    symmetry = str(rng.choice(SYMMETRIES)) if kind == "symmetric" else None
    mass = float(np.round(np.exp(rng.uniform(np.log(80), np.log(900))), 0))
    atomic = atomic_choice(seed)
    if atomic is not None:
        kind, symmetry, mass = atomic, None, float(catalog()[atomic.split(":", 1)[1]]["mass_kda"])
    junk_total = float(rng.uniform(0.1, 0.6))
    kinds = ["empty", "ice", "carbon", "aggregate", "clipped", "fragment"]
    shares = rng.dirichlet(np.full(len(kinds), 0.7))
    box = int(rng.choice([40, 40, 48]))
    diameter = make_structure(kind, mass, seed, symmetry).provenance["max_diameter_A"]
    pixel_size = float(np.round(np.clip(rng.uniform(1.4, 2.2) * diameter / box, 2.0, 7.0), 2))
    particles = ParticleConfig(
        n_particles=int(rng.integers(400, 700)), box=box, pixel_size=pixel_size,
        snr=float(np.round(rng.uniform(0.02, 0.12), 3)),
        voltage=float(rng.choice([200.0, 300.0])), particles_per_micrograph=40,
        preferred_fraction=float(rng.choice([0.0, 0.0, 0.3, 0.6])),
        junk_fractions={k: round(junk_total * s, 3) for k, s in zip(kinds, shares)},
    )
    return ExampleConfig(
        seed=seed, structure_kind=kind, structure_symmetry=symmetry, mass_kda=mass, particles=particles,
        n_classes=int(rng.integers(10, 17)), n_iter=12, threads=2,
        psi_sampling=float(rng.choice([6.0, 12.0, 12.0])), offset_step=float(rng.choice([1.0, 2.0, 2.0])),
    )


def compact(project: Path, seed: int) -> None:
    """Drop what training and held-out evaluation do not need.

    Always the particle stacks. From ``CHEAP_FROM_SEED`` on also the copies and logs that are
    regenerable from ``ground_truth/simulation.json`` and the seed: the truth CSV beside the stack
    (``ground_truth/particles_truth.csv`` has it plus RELION's class), the Class2D input STAR,
    ``run.out`` and ``true_map.mrc`` (``build_example`` with the same config rewrites them).
    """
    for stack in project.glob("Simulated/*.mrcs"):
        stack.unlink()
    if seed >= CHEAP_FROM_SEED:
        for extra in ("Simulated/particles_truth.csv", "Simulated/particles.star", "Class2D/job001/run.out",
                      "ground_truth/true_map.mrc"):
            (project / extra).unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("corpus/relion"))
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(args.n):
        seed = args.seed + i
        project = args.out / f"relion{seed}"
        if (project / "ground_truth" / "simulation.json").is_file():
            print(f"{project}: exists, skipped")
            continue
        started = time.monotonic()
        summary = build_example(project, random_config(seed))
        compact(project, seed)
        print(json.dumps({"project": str(project), "seconds": round(time.monotonic() - started),
                          "classes": summary["n_classes"], "good": summary["n_good_classes"],
                          "structure": summary["structure"].get("kind")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
