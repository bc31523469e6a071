#!/usr/bin/env python3
"""Check the lab-like fast path against real relion_refine classes of thousands of particles each.

    python scripts/research/compare_lab_producer.py --out /tmp/labcheck --particles 20000 --classes 6 --box 96

1. A real project: particles simulated one by one from an atomic model (``simulate.particles``),
   classified by Debian's ``relion_refine`` 3.1.3 Class2D (``cryodiscovery_dev.relion_class2d.build_example``),
   so each class holds thousands of particles.
2. The same structure, box, pixel size and per-class particle counts through the analytic fast path
   (``simulate.lab_classes``), several jobs, particle classes only.
3. Side by side for the particle classes (ground-truth purity >= 0.8) of both: the spectral
   measures the model uses, the class's own resolution estimate and the radial power fall-off,
   medians and ranges; written as JSON and a markdown table (for ``docs/producers.md``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]

MEASURES = ("hf_power_fraction", "spectral_resolution_kd", "spectral_slope", "ring_1", "ring_2", "edge_anisotropy")
KD_POINTS = (1, 2, 4, 8, 12, 16, 20)


def radial_falloff(image: np.ndarray, pixel_size: float | None, diameter: float | None) -> np.ndarray:
    from relion_cryodiscovery.data.spectral import _masked, _radial_power, spectral_view

    view, d_px = spectral_view(image, pixel_size, diameter)
    radial, _ = _radial_power(_masked(view, 0.5 * d_px))
    kd = np.arange(len(radial)) / view.shape[0] * d_px
    curve = np.interp(KD_POINTS, kd, np.log10(radial + 1e-30))
    return curve - curve[1]


def describe(images, pixel_size, diameter) -> pd.DataFrame:
    from relion_cryodiscovery.data.spectral import spectral_measures

    rows = []
    for image in images:
        row = spectral_measures(image, pixel_size, diameter)
        row.update({f"log_power_kd{k}": v for k, v in zip(KD_POINTS, radial_falloff(image, pixel_size, diameter))})
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="enterotoxin_lt2b", help="atomic model name")
    parser.add_argument("--particles", type=int, default=20000)
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--box", type=int, default=96)
    parser.add_argument("--pixel_size", type=float, default=0.0, help="0: box = 1.8 x the particle")
    parser.add_argument("--snr", type=float, default=0.05)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--lab_jobs", type=int, default=8)
    parser.add_argument("--psi_sampling", type=float, default=10.0, help="Class2D in-plane sampling (deg; GUI's value)")
    parser.add_argument("--offset_step", type=float, default=2.0, help="Class2D offset step (px)")
    args = parser.parse_args()

    from relion_cryodiscovery.relion.job import locate_job, read_job
    from cryodiscovery_dev.simulate import lab_classes
    from cryodiscovery_dev.simulate.lab_models import point_model
    from cryodiscovery_dev.simulate.particles import ParticleConfig
    from cryodiscovery_dev.relion_class2d import ExampleConfig, build_example

    model = point_model(args.model)
    pixel = args.pixel_size or round(1.8 * model.diameter_a / args.box, 3)
    project = args.out / "relion_project"
    if not (project / "ground_truth" / "simulation.json").is_file():
        cfg = ExampleConfig(
            seed=args.seed, structure_kind=f"atomic:{args.model}", structure_symmetry=None, mass_kda=0.0,
            particles=ParticleConfig(n_particles=args.particles, box=args.box, pixel_size=pixel, snr=args.snr,
                                     particles_per_micrograph=100,
                                     junk_fractions={"ice": 0.03, "carbon": 0.03, "aggregate": 0.03, "empty": 0.03}),
            n_classes=args.classes, n_iter=args.iterations, psi_sampling=args.psi_sampling, offset_step=args.offset_step, timeout_s=4 * 3600)
        start = time.perf_counter()
        build_example(project, cfg)
        print(f"relion project built in {time.perf_counter() - start:.0f} s", flush=True)
    summary = json.loads((project / "ground_truth" / "simulation.json").read_text())
    labels = pd.read_csv(project / "ground_truth" / "class_labels.csv")
    job = read_job(locate_job(sorted((project / "Class2D" / "job001").glob("run_it*_data.star"))[-1]))
    classes = job.classes
    purity_col = next(c for c in labels.columns if "purity" in c or "fraction" in c)
    keep = labels[purity_col].to_numpy() >= 0.8
    relion = describe(classes.images[keep], classes.pixel_size, classes.particle_diameter)
    relion["n_particles"] = classes.particle_counts[keep]
    relion["relion_resolution_a"] = classes.metadata["rlnEstimatedResolution"][keep]

    lab_rows = []
    for j in range(args.lab_jobs):
        rng = np.random.default_rng([args.seed, j])
        spec = lab_classes.random_job_spec(rng, args.seed + j, [args.model])
        spec.models, spec.box, spec.pixel_size, spec.diameter_a = [args.model], args.box, pixel, model.diameter_a
        spec.n_classes = args.classes
        spec.n_particles = int(classes.particle_counts.sum())
        spec.junk_fraction = 0.0
        spec.handover.update(style="relion_float", mask="zero", metadata="relion")
        lab_job, truth = lab_classes.simulate_job(spec)
        table = describe(lab_job.images, lab_job.pixel_size, lab_job.particle_diameter)
        table["n_particles"] = [t.n_particles for t in truth]
        table["lab_resolution_a"] = [t.resolution_a for t in truth]
        lab_rows.append(table)
    lab = pd.concat(lab_rows, ignore_index=True)

    def summarise(frame: pd.DataFrame) -> dict:
        return {c: [round(float(frame[c].quantile(q)), 3) for q in (0.1, 0.5, 0.9)] for c in frame.columns}

    result = {"structure": args.model, "box": args.box, "pixel_size": pixel, "particles": args.particles,
              "classes": args.classes, "psi_sampling": args.psi_sampling, "offset_step": args.offset_step,
              "relion_class2d_wall_s": summary.get("class2d_wall_s"),
              "relion_particle_classes": int(keep.sum()), "lab_classes": len(lab),
              "relion": summarise(relion), "lab": summarise(lab)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "comparison.json").write_text(json.dumps(result, indent=1))
    lines = ["| measure | relion_refine (q10 / median / q90) | fast path (q10 / median / q90) |", "|---|---|---|"]
    for c in result["relion"]:
        if c in result["lab"]:
            r, f = result["relion"][c], result["lab"][c]
            lines.append(f"| {c} | {r[0]} / **{r[1]}** / {r[2]} | {f[0]} / **{f[1]}** / {f[2]} |")
    (args.out / "comparison.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
