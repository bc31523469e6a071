"""Build the bundled example and the Class2D corpus: a real RELION 3.1 project with simulated
particles, a Class2D job run by Debian's ``relion_refine`` through ``relion_pipeliner``, ground
truth, and a Select job made from the ground truth (project helpers: :mod:`.relion_project`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import starfile

from .relion_project import (
    SELECT_JOB, finish_select, init_project, job_options, merge_truth, particle_diameter, prepare_output, prune_job,
    run_job, schedule_select,
)
from .simulate.particles import ParticleConfig, simulate_particles, write_particle_set
from .simulate.relion_files import write_map, write_select_job
from .simulate.structures import make_structure
from .simulate.truth import LABEL_RULE, class_table

CLASS2D_JOB = "Class2D/job001/"


@dataclass
class ExampleConfig:
    """Everything that defines the example project."""

    seed: int = 20261122
    structure_kind: str = "symmetric"
    structure_symmetry: str | None = "D2"
    mass_kda: float = 300.0
    particles: ParticleConfig = field(default_factory=lambda: ParticleConfig(
        n_particles=1000, box=48, pixel_size=3.0, snr=0.1, particles_per_micrograph=40,
        junk_fractions={"empty": 0.12, "ice": 0.04, "carbon": 0.08, "aggregate": 0.04, "clipped": 0.04,
                        "fragment": 0.03}))
    n_classes: int = 12
    n_iter: int = 18
    threads: int = 2
    psi_sampling: float = 6.0
    offset_step: float = 1.0
    timeout_s: float = 1800.0


def class2d_options(cfg: ExampleConfig, diameter: int) -> str:
    """``--addJobOptions`` string for the Class2D job (no blank after ';', see the observed doc)."""
    opts = {
        "fn_img": "Simulated/particles.star", "nr_classes": cfg.n_classes, "tau_fudge": 2, "nr_iter": cfg.n_iter,
        "particle_diameter": diameter, "do_zero_mask": "Yes", "do_ctf_correction": "Yes",
        "ctf_intact_first_peak": "No", "dont_skip_align": "Yes", "psi_sampling": f"{cfg.psi_sampling:g}", "offset_range": 5,
        "offset_step": f"{cfg.offset_step:g}", "allow_coarser": "No", "nr_pool": 30, "do_preread_images": "Yes",
        "do_combine_thru_disc": "No", "use_gpu": "No", "nr_mpi": 1, "nr_threads": cfg.threads,
        "other_args": f"--random_seed {cfg.seed}",
    }
    return job_options(opts)


def run_class2d(project: Path, cfg: ExampleConfig, diameter: int) -> float:
    """Schedule and run the Class2D job with the pipeliner; return its wall time in seconds."""
    return run_job(project, "Class2D", CLASS2D_JOB, class2d_options(cfg, diameter), cfg.timeout_s)


def prune_class2d(job_dir: Path, last_iter: int) -> None:
    """Keep only the last iteration's outputs and the job's bookkeeping files."""
    keep = {f"run_it{last_iter:03d}_{s}" for s in ("data.star", "model.star", "optimiser.star", "classes.mrcs",
                                                   "sampling.star")}
    prune_job(job_dir, keep | {"job.star", "note.txt", "run.out", "RELION_JOB_EXIT_SUCCESS"})


def class_labels(data: pd.DataFrame, truth: pd.DataFrame, n_classes: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-particle truth with RELION's class (``class_number``), and the per-class labels."""
    merged = merge_truth(data, truth)
    return merged, class_table(merged["class_number"].to_numpy(), merged["is_good"].to_numpy(), n_classes)


def add_select_job(project: Path, data_star: str, model_star: str, labels: pd.DataFrame) -> None:
    """Schedule a Select job on the model.star (as RELION 3.1 records it), write its outputs
    from the ground-truth labels and mark it finished."""
    schedule_select(project, model_star)
    data = starfile.read(project / data_star, always_dict=True)
    model = starfile.read(project / model_star, always_dict=True)
    note = (f"++++ Select job written by cryodiscovery_dev.relion_class2d from the ground truth\n"
            f"++++ ({LABEL_RULE}), not interactively.\n"
            f"++++ Input: {model_star}\n")
    job = write_select_job(project, SELECT_JOB, data["optics"], data["particles"], model["model_classes"],
                           labels["label"].to_numpy(), note)
    finish_select(project, job)


def build_example(out: str | Path, cfg: ExampleConfig) -> dict:
    """Build the whole example project under ``out`` (replacing an earlier one); return a summary."""
    out = Path(out).resolve()
    prepare_output(out)
    init_project(out)
    structure = make_structure(cfg.structure_kind, cfg.mass_kda, cfg.seed, cfg.structure_symmetry)
    pset = simulate_particles([structure], cfg.particles, cfg.seed)
    paths = write_particle_set(pset, out, cfg.particles.stack_name)
    diameter = particle_diameter(structure.provenance["max_diameter_A"], cfg.particles.box, cfg.particles.pixel_size)
    wall = run_class2d(out, cfg, diameter)
    prune_class2d(out / CLASS2D_JOB, cfg.n_iter)
    root = f"{CLASS2D_JOB}run_it{cfg.n_iter:03d}"
    data = starfile.read(out / f"{root}_data.star", always_dict=True)["particles"]
    merged, labels = class_labels(data, pset.truth, cfg.n_classes)
    gt = out / "ground_truth"
    gt.mkdir()
    merged.to_csv(gt / "particles_truth.csv", index=False, float_format="%.4f")
    labels.to_csv(gt / "class_labels.csv", index=False)
    write_map(gt / "true_map.mrc", structure.render(cfg.particles.pixel_size, cfg.particles.box),
              cfg.particles.pixel_size)  # the reference for evaluate --reference (FSC)
    add_select_job(out, f"{root}_data.star", f"{root}_model.star", labels)
    summary = {
        "seed": cfg.seed, "class2d_wall_s": round(wall, 1), "particle_diameter_A": diameter,
        "class2d_options": class2d_options(cfg, diameter), "structure": structure.provenance,
        "config": asdict(cfg), "kind_counts": pset.truth["kind"].value_counts().to_dict(),
        "n_good_classes": int(labels["label"].sum()), "n_classes": cfg.n_classes,
        "truth_csv_beside_stack": str(paths["truth"].relative_to(out)),
    }
    (gt / "simulation.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


def write_readme(out: str | Path, summary: dict, command: str, total_s: float | None = None) -> Path:
    """README.md of the example: what it is, how it was made, timing, and the labelling rule."""
    out = Path(out)
    labels = pd.read_csv(out / "ground_truth" / "class_labels.csv")
    note = (out / CLASS2D_JOB / "note.txt").read_text().strip()
    pc = summary["config"]["particles"]
    kinds = ", ".join(f"{k} {v}" for k, v in summary["kind_counts"].items())
    total = f"; whole build {total_s:.0f} s" if total_s is not None else ""
    table = "\n".join(["| " + " | ".join(labels.columns) + " |", "|" + "---|" * len(labels.columns)]
                      + ["| " + " | ".join(str(v) for v in row) + " |" for row in labels.itertuples(index=False)])
    text = f"""# Example: a small RELION 3.1 Class2D project with ground truth

Regenerate (deletes and rebuilds this directory; deterministic given the seed):

```
{command}
```

* `Simulated/particles.mrcs`, `Simulated/particles.star`: {pc['n_particles']} simulated picks, box {pc['box']},
  {pc['pixel_size']} A/px, {pc['voltage']} kV, SNR {pc['snr']}; structure `{summary['structure']['kind']}`
  ({summary['structure'].get('symmetry', 'C1')}, {summary['structure']['mass_kda']:.0f} kDa, max diameter
  {summary['structure']['max_diameter_A']} A). Picks by kind: {kinds}.
  `Simulated/particles_truth.csv` holds the per-particle ground truth; RELION never reads it.
* `Class2D/job001/`: a real Class2D run of Debian's `relion_refine` 3.1.3 through `relion_pipeliner`
  (only the last iteration's files are kept). RELION's command (`note.txt`):

```
{note}
```

* Scheduling: `relion_pipeliner --addJob Class2D --addJobOptions "{summary['class2d_options']}"`, then
  `relion_pipeliner --RunJobs "{CLASS2D_JOB}" --sec_wait_after 1`.
* **Wall time of the Class2D run: {summary['class2d_wall_s']:.0f} s** ({summary['config']['threads']} threads,
  2-core machine, measured around `--RunJobs`{total}).
* `ground_truth/particles_truth.csv`: per-particle truth plus the class RELION assigned (`class_number`).
* `ground_truth/class_labels.csv`: `class_number,label,purity,n_particles,n_good_particles`.
  **Rule: {LABEL_RULE}** (purity = fraction of the class's particles that are true particles).
* `Select/job002/`: a RELION 3.1 Select job made from the labels (`backup_selection.star`, `class_averages.star`,
  `particles.star`), registered in `default_pipeline.star` with `{CLASS2D_JOB}run_it{summary['config']['n_iter']:03d}_model.star`
  as its input edge (it was scheduled with `relion_pipeliner --addJob Select` and marked finished).
* `ground_truth/simulation.json`: all simulation parameters and the structure's provenance.

Class labels ({summary['n_good_classes']} of {summary['n_classes']} classes good):

{table}
"""
    path = out / "README.md"
    path.write_text(text)
    return path
