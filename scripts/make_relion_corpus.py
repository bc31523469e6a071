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
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relion_cryodiscovery.simulate.particles import ParticleConfig  # noqa: E402
from relion_cryodiscovery.simulate.relion_runs import ExampleConfig, build_example  # noqa: E402
from relion_cryodiscovery.simulate.structures import STRUCTURE_KINDS, SYMMETRIES  # noqa: E402


def random_config(seed: int) -> ExampleConfig:
    """A varied but cheap Class2D set-up (a few minutes on 2 cores)."""
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


def compact(project: Path) -> None:
    """Drop what a held-out evaluation does not need (particle stacks)."""
    for stack in project.glob("Simulated/*.mrcs"):
        stack.unlink()


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
        compact(project)
        print(json.dumps({"project": str(project), "seconds": round(time.monotonic() - started),
                          "classes": summary["n_classes"], "good": summary["n_good_classes"],
                          "structure": summary["structure"].get("kind")}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
