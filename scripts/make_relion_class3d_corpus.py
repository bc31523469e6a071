#!/usr/bin/env python3
"""Real RELION 3D classes with ground truth: a batch of small Class3D projects.

    nice -n 19 python scripts/make_relion_class3d_corpus.py --out corpus/relion3d --n 8 --seed 3000

Each project (``cryodiscovery_dev.relion_class3d.build_class3d_project``): simulated
picks mixing the intended structure, a partial version of it (one domain/subunit removed) and
junk -> Debian's relion_refine 3.1.3 Class3D through relion_pipeliner, seeded from a 40-60 A
low-pass of the true map -> per-class labels from the particles' ground truth -> a RELION Select
job made from the labels. The structure, size, SNR, junk mix, partial share, K and sampling are
drawn from the seed. Only compact outputs are kept (last iteration's STAR files and class maps,
ground truth, Select job); particle stacks and the reference are deleted. Projects that already
exist are skipped, so a batch can be extended across sessions.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cryodiscovery_dev.simulate.particles import ParticleConfig
from cryodiscovery_dev.relion_class3d import (
    LABEL_RULE_3D,
    Class3DConfig,
    build_class3d_project,
    relabel_project,
)
from cryodiscovery_dev.simulate.structures import STRUCTURE_KINDS, SYMMETRIES, make_structure

#: (box, K) pairs: class maps are RELION's float32 box^3, so K * box^3 * 4 B stays <= ~0.8 MB per project.
BOX_AND_K = ((40, 3), (36, 3), (36, 4), (32, 5))
#: Seeds from here on use offset range 3 px (not 5) and more K = 3 jobs: half the translations, so a run
#: fits ~10 min on 2 quiet cores (seed 3000, the first, took 17 min sharing the machine with other jobs).
CHEAP_FROM_SEED = 3001


def random_config(seed: int) -> Class3DConfig:
    """A varied Class3D set-up that takes a few minutes on 2 cores."""
    rng = np.random.default_rng(seed)
    kind = str(rng.choice(STRUCTURE_KINDS))
    symmetry = str(rng.choice(SYMMETRIES)) if kind == "symmetric" else None
    mass = float(np.round(np.exp(rng.uniform(np.log(120), np.log(450))), 0))
    cheap = seed >= CHEAP_FROM_SEED
    box, k = BOX_AND_K[int(rng.choice(len(BOX_AND_K), p=[0.4, 0.3, 0.2, 0.1] if cheap else [0.35, 0.25, 0.25, 0.15]))]
    diameter = make_structure(kind, mass, seed, symmetry).provenance["max_diameter_A"]
    # the particle fills 55-75% of the box, as labs box for 3D classification
    pixel_size = float(np.round(np.clip(diameter / (box * rng.uniform(0.55, 0.75)), 2.0, 7.5), 2))
    junk_total = float(rng.uniform(0.1, 0.45))
    kinds = ["empty", "ice", "carbon", "aggregate", "clipped", "fragment"]
    shares = rng.dirichlet(np.full(len(kinds), 0.8))
    particles = ParticleConfig(
        n_particles=int(rng.integers(500, 751)), box=box, pixel_size=pixel_size,
        snr=float(np.round(rng.uniform(0.04, 0.15), 3)), voltage=float(rng.choice([200.0, 300.0])),
        particles_per_micrograph=40, preferred_fraction=float(rng.choice([0.0, 0.0, 0.3])),
        junk_fractions={k_: round(junk_total * s, 3) for k_, s in zip(kinds, shares)},
    )
    return Class3DConfig(
        seed=seed, structure_kind=kind, structure_symmetry=symmetry, mass_kda=mass,
        partial_fraction=float(np.round(rng.uniform(0.2, 0.5), 2)), particles=particles, n_classes=k,
        n_iter=int(rng.integers(12, 15)), healpix_order=1, reference_lowpass_A=float(rng.choice([40.0, 50.0, 60.0])),
        ini_high_A=50.0, offset_range=3 if cheap else 5, offset_step=1, threads=2,
    )


def write_index(out: Path) -> Path:
    """``index.csv``: one row per finished project (seed, structure, K, good classes, wall times)."""
    rows = []
    for summary_path in sorted(out.glob("relion3d*/ground_truth/simulation.json")):
        s = json.loads(summary_path.read_text())
        cfg, pc = s["config"], s["config"]["particles"]
        rows.append({"project": summary_path.parents[1].name, "seed": s["seed"], "structure": s["structure"]["kind"],
                     "mass_kda": s["structure"]["mass_kda"], "box": pc["box"], "pixel_size": pc["pixel_size"],
                     "n_particles": pc["n_particles"], "partial_fraction": cfg["partial_fraction"],
                     "n_classes": s["n_classes"], "n_good_classes": s["n_good_classes"], "n_iter": cfg["n_iter"],
                     "class3d_wall_s": s["class3d_wall_s"]})
    path = out / "index.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("corpus/relion3d"))
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3000)
    parser.add_argument("--relabel", action="store_true",
                        help=f"only relabel the finished projects under --out with the current rule ({LABEL_RULE_3D}) "
                             "and rewrite index.csv")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.relabel:
        for summary_path in sorted(args.out.glob("relion3d*/ground_truth/simulation.json")):
            labels = relabel_project(summary_path.parents[1])
            print(f"{summary_path.parents[1]}: {int(labels['label'].sum())} of {len(labels)} classes good", flush=True)
        print(write_index(args.out))
        return 0
    for i in range(args.n):
        seed = args.seed + i
        project = args.out / f"relion3d{seed}"
        if (project / "ground_truth" / "simulation.json").is_file():
            print(f"{project}: exists, skipped", flush=True)
            continue
        started = time.monotonic()
        try:
            summary = build_class3d_project(project, random_config(seed))
        except Exception as error:  # one failed run must not stop the batch; rerunning retries it
            print(json.dumps({"project": str(project), "failed": repr(error)}), flush=True)
            continue
        print(json.dumps({"project": str(project), "seconds": round(time.monotonic() - started),
                          "class3d_s": summary["class3d_wall_s"], "classes": summary["n_classes"],
                          "good": summary["n_good_classes"], "structure": summary["structure"].get("kind")}),
              flush=True)
        write_index(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
