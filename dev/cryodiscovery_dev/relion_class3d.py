"""Real RELION 3.1 Class3D projects with ground truth, for the training and evaluation corpus.

One project: simulated picks that mix the intended structure, a *partial* version of it (one
domain or subunit missing, as a sub-complex that lost a component) and junk -> a low-pass
filtered reference map -> Debian's ``relion_refine`` Class3D (K = 3-5) through
``relion_pipeliner`` -> each 3D class labelled from its particles' ground truth -> a RELION 3.1
Select job made from the labels. The project helpers are shared with the Class2D builder
(:mod:`.relion_project`).

Labelling rule (:data:`LABEL_RULE_3D`): a 3D class is good (1) when it holds at least
:data:`MIN_PARTICLES_3D` particles, at least :data:`MIN_PURITY_3D` of them are true particles of
the *intended* (complete) structure, and at least :data:`MIN_PURITY_ANY_3D` are true particles
of either structure. Its map then shows the complete structure (the domain the partial
structure lacks at >= 60% occupancy) with little junk; classes dominated by the partial
structure, by junk, or too small to give a map are bad (0). Graded values are written beside
the label: ``purity`` (intended structure), ``purity_any`` (true particles of either
structure), ``frac_partial`` and ``frac_junk``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import starfile

from .relion_project import (
    SELECT_JOB, finish_select, init_project, job_options, merge_truth, particle_diameter, prepare_output, prune_job,
    run_job, schedule_select,
)
from .simulate.particles import ParticleConfig, simulate_particles, write_particle_set
from .simulate.relion_files import write_map, write_star
from .simulate.point_model import Structure
from .simulate.structures import make_structure

CLASS3D_JOB = "Class3D/job001/"
REFERENCE = "Reference/reference.mrc"

#: A 3D class is labelled good when at least this fraction of its particles are the intended structure,
MIN_PURITY_3D = 0.6
#: at least this fraction are true particles of either structure (little junk),
MIN_PURITY_ANY_3D = 0.75
#: and it holds at least this many particles (fewer give no interpretable map).
MIN_PARTICLES_3D = 30
LABEL_RULE_3D = (f"label = 1 when purity >= {MIN_PURITY_3D} and purity_any >= {MIN_PURITY_ANY_3D} and "
                 f"n_particles >= {MIN_PARTICLES_3D}, else 0; purity = fraction of the class's particles that are "
                 "true particles of the intended (complete) structure, purity_any = fraction that are true particles "
                 "of the intended or the partial structure")
#: RELION 3.1 GUI values of Class3D's "Angular sampling interval" and their HEALPix orders.
HEALPIX_SAMPLING = {0: "30 degrees", 1: "15 degrees", 2: "7.5 degrees", 3: "3.7 degrees"}


@dataclass
class Class3DConfig:
    """Everything that defines one Class3D project."""

    seed: int = 3000
    structure_kind: str = "globular"
    structure_symmetry: str | None = None
    mass_kda: float = 300.0
    #: Share of the true particles that are the partial structure (the rest are the intended one).
    partial_fraction: float = 0.35
    particles: ParticleConfig = field(default_factory=lambda: ParticleConfig(
        n_particles=800, box=40, pixel_size=3.5, snr=0.08, particles_per_micrograph=40,
        junk_fractions={"empty": 0.08, "ice": 0.03, "carbon": 0.04, "aggregate": 0.04, "clipped": 0.03,
                        "fragment": 0.03}))
    n_classes: int = 4
    n_iter: int = 12
    healpix_order: int = 1
    #: Reference: the intended structure's map low-pass filtered to this resolution (A).
    reference_lowpass_A: float = 50.0
    ini_high_A: float = 50.0
    #: "Limit resolution E-step to" (A): what labs set for a fast first Class3D; bounds the cost.
    highres_limit_A: float = 20.0
    tau_fudge: float = 4.0
    offset_range: int = 5
    offset_step: int = 2
    threads: int = 2
    timeout_s: float = 3600.0


def partial_structure(full: Structure, seed: int) -> tuple[Structure, dict]:
    """The intended structure with one domain (subunit) removed, re-centred on its own mass.

    The removed domain is the one whose mass share is closest to 30% (a component a sub-complex
    plausibly lacks, large enough to be visible at low resolution). A flexible structure loses its
    hinge when its moving arm is the part removed.
    """
    domains, counts = np.unique(full.domains, return_counts=True)
    if len(domains) < 2:
        raise ValueError("a partial structure needs at least two domains")
    mass = np.array([full.weights[full.domains == d].sum() for d in domains])
    share = mass / mass.sum()
    protein = [i for i, d in enumerate(domains) if np.all(full.weights[full.domains == d] == 1.0)] or list(range(len(domains)))
    drop = int(domains[min(protein, key=lambda i: abs(share[i] - 0.3))])
    keep = full.domains != drop
    w = full.weights[keep]
    com = (full.coords[keep] * w[:, None]).sum(0) / w.sum()
    hinge = None
    if full.hinge and full.hinge["domain"] != drop:
        hinge = dict(full.hinge, point=[float(v) for v in np.asarray(full.hinge["point"]) - com])
    info = {"removed_domain": drop, "removed_mass_share": round(float(share[list(domains).index(drop)]), 3),
            "recentred_by_A": [round(float(v), 2) for v in com]}
    prov = dict(full.provenance, partial=info)
    s = Structure(full.coords[keep] - com, w, full.domains[keep], full.blob_sigma, hinge, prov)
    s.provenance["max_diameter_A"] = round(2 * s.radius, 1)
    return s, info


def lowpass(volume: np.ndarray, pixel_size: float, resolution_a: float) -> np.ndarray:
    """Fourier low-pass to ``resolution_a`` with a raised-cosine edge one shell wide."""
    n = volume.shape[0]
    f = np.fft.fftfreq(n) / pixel_size
    r = np.sqrt(f[:, None, None] ** 2 + f[None, :, None] ** 2 + f[None, None, :] ** 2)
    cut, width = 1.0 / resolution_a, 1.0 / (n * pixel_size)
    filt = np.clip((cut + width - r) / (2 * width), 0, 1)
    filt = 0.5 - 0.5 * np.cos(np.pi * filt)
    return np.real(np.fft.ifftn(np.fft.fftn(volume) * filt)).astype(np.float32)


def class3d_options(cfg: Class3DConfig, diameter: int) -> str:
    """``--addJobOptions`` string for RELION 3.1's Class3D job (names from the job.star it writes)."""
    opts = {
        "fn_img": "Simulated/particles.star", "fn_ref": REFERENCE, "ref_correct_greyscale": "No",
        "ini_high": f"{cfg.ini_high_A:g}", "sym_name": "C1", "do_ctf_correction": "Yes", "ctf_corrected_ref": "No",
        "ctf_intact_first_peak": "No", "nr_classes": cfg.n_classes, "tau_fudge": f"{cfg.tau_fudge:g}",
        "nr_iter": cfg.n_iter, "do_fast_subsets": "No", "particle_diameter": diameter, "do_zero_mask": "Yes",
        "highres_limit": f"{cfg.highres_limit_A:g}", "dont_skip_align": "Yes", "sampling": HEALPIX_SAMPLING[cfg.healpix_order], "offset_range": cfg.offset_range,
        "offset_step": cfg.offset_step, "do_local_ang_searches": "No", "allow_coarser": "No", "nr_pool": 30,
        "do_preread_images": "Yes", "do_combine_thru_disc": "No", "use_gpu": "No", "nr_mpi": 1,
        "nr_threads": cfg.threads, "other_args": f"--random_seed {cfg.seed}",
    }
    return job_options(opts)


def run_class3d(project: Path, cfg: Class3DConfig, diameter: int) -> float:
    """Schedule and run the Class3D job with the pipeliner; return its wall time in seconds."""
    return run_job(project, "Class3D", CLASS3D_JOB, class3d_options(cfg, diameter), cfg.timeout_s)


def prune_class3d(job_dir: Path, last_iter: int, n_classes: int, max_run_out: int = 50_000) -> None:
    """Keep the last iteration's data/model/optimiser/sampling STAR files and class maps, and the
    job's bookkeeping files (``run.out`` only when small)."""
    root = f"run_it{last_iter:03d}"
    keep = {f"{root}_{s}.star" for s in ("data", "model", "optimiser", "sampling")}
    keep |= {f"{root}_class{k:03d}.mrc" for k in range(1, n_classes + 1)}
    keep |= {"job.star", "note.txt", "RELION_JOB_EXIT_SUCCESS"}
    if (job_dir / "run.out").is_file() and (job_dir / "run.out").stat().st_size <= max_run_out:
        keep.add("run.out")
    prune_job(job_dir, keep)


def class_table_3d(class_numbers: np.ndarray, is_good: np.ndarray, structure_id: np.ndarray,
                   n_classes: int) -> pd.DataFrame:
    """Per-class labels (see :data:`LABEL_RULE_3D`) for classes 1..n_classes.

    ``class_numbers``: RELION's class per particle; ``is_good``: true particle (not junk);
    ``structure_id``: 0 = intended structure, 1 = partial structure (ignored for junk).
    Columns ``class_number,label,purity,n_particles,n_good_particles`` (as the 2D table, with
    "good" = intended structure) plus ``purity_any,frac_partial,frac_junk,n_partial,n_junk``.
    """
    c = np.asarray(class_numbers, int)
    good = np.asarray(is_good, bool)
    sid = np.asarray(structure_id, int)
    intended, partial = good & (sid == 0), good & (sid != 0)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(c[mask], minlength=n_classes + 1)[1:n_classes + 1]

    n, n_int, n_par = count(np.ones_like(good)), count(intended), count(partial)
    n_junk = n - n_int - n_par

    def frac(x: np.ndarray) -> np.ndarray:
        return np.round(np.divide(x, n, out=np.zeros(n_classes), where=n > 0), 4)

    purity, purity_any = frac(n_int), frac(n_int + n_par)
    return pd.DataFrame({
        "class_number": np.arange(1, n_classes + 1),
        "label": ((purity >= MIN_PURITY_3D) & (purity_any >= MIN_PURITY_ANY_3D) & (n >= MIN_PARTICLES_3D)).astype(int),
        "purity": purity, "n_particles": n, "n_good_particles": n_int,
        "purity_any": purity_any, "frac_partial": frac(n_par), "frac_junk": frac(n_junk),
        "n_partial": n_par, "n_junk": n_junk,
    })


def class_labels_3d(data: pd.DataFrame, truth: pd.DataFrame, n_classes: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-particle truth with RELION's class (``class_number``), and the per-class labels."""
    merged = merge_truth(data, truth)
    table = class_table_3d(merged["class_number"].to_numpy(), merged["is_good"].to_numpy(),
                           merged["structure_id"].to_numpy(), n_classes)
    return merged, table


def add_select_job_3d(project: Path, data_star: str, model_star: str, labels: pd.DataFrame) -> Path:
    """A RELION 3.1 Select job on a Class3D model.star, written from the labels.

    For a 3D model RELION's Select (``relion_display --gui --i model.star --fn_parts ...``, no
    ``--fn_imgs``) saves ``backup_selection.star`` (one ``rlnSelected`` row per class) and
    ``particles.star`` (optics + the selected classes' particles); there is no class_averages.star.
    With no class selected, particles.star is not written (an empty particle set crashes
    ``relion_refine`` 3.1 downstream).
    """
    schedule_select(project, model_star)
    job = write_select_files_3d(project, data_star, model_star, labels)
    (job / "RELION_JOB_EXIT_SUCCESS").touch()
    finish_select(project, job)
    return job


def write_select_files_3d(project: Path, data_star: str, model_star: str, labels: pd.DataFrame) -> Path:
    """The Select job's selection files and note from the labels (replacing earlier ones)."""
    job = project / SELECT_JOB
    (job / "particles.star").unlink(missing_ok=True)
    data = starfile.read(project / data_star, always_dict=True)
    selected = labels["label"].to_numpy(int)
    write_star(job / "backup_selection.star", {"": pd.DataFrame({"rlnSelected": selected})})
    chosen = labels["class_number"].to_numpy()[selected > 0]
    if len(chosen):
        particles = data["particles"]
        keep = particles[particles["rlnClassNumber"].isin(chosen)].reset_index(drop=True)
        write_star(job / "particles.star", {"optics": data["optics"], "particles": keep})
    (job / "note.txt").write_text(
        "++++ Select job written by cryodiscovery_dev.relion_class3d from the ground truth\n"
        f"++++ ({LABEL_RULE_3D}), not interactively.\n++++ Input: {model_star}\n")
    return job


def relabel_project(project: str | Path) -> pd.DataFrame:
    """Recompute a built project's class labels with the current rule from its per-particle truth and
    rewrite ``class_labels.csv``, the Select job's files and the summary's label fields."""
    project = Path(project)
    gt = project / "ground_truth"
    summary = json.loads((gt / "simulation.json").read_text())
    truth = pd.read_csv(gt / "particles_truth.csv")
    k = int(summary["n_classes"])
    labels = class_table_3d(truth["class_number"].to_numpy(), truth["is_good"].to_numpy(),
                            truth["structure_id"].to_numpy(), k)
    labels.to_csv(gt / "class_labels.csv", index=False)
    root = f"{CLASS3D_JOB}run_it{int(summary['config']['n_iter']):03d}"
    write_select_files_3d(project, f"{root}_data.star", f"{root}_model.star", labels)
    summary.update(label_rule=LABEL_RULE_3D, n_good_classes=int(labels["label"].sum()))
    (gt / "simulation.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return labels


def write_half_map(path: Path, volume: np.ndarray, pixel_size: float) -> None:
    """A float16 (MRC mode 12) copy of a ground-truth map: half the bytes; read by mrcfile, not by RELION 3.1."""
    import mrcfile

    with mrcfile.new(str(path), overwrite=True) as m:
        m.set_data(np.asarray(volume, dtype=np.float16))
        m.voxel_size = pixel_size
        m.header.label[0] = b"relion_cryodiscovery.simulate"  # as simulate.relion_files.write_map labels its maps
        m.header.nlabl = 1


def build_class3d_project(out: str | Path, cfg: Class3DConfig, keep_stacks: bool = False) -> dict:
    """Build one Class3D project under ``out`` (replacing an earlier one); return a summary.

    Particle stacks, the particle STAR file and the reference map are deleted afterwards unless
    ``keep_stacks`` (all are regenerable from ``ground_truth/simulation.json``).
    """
    started = time.monotonic()
    out = Path(out).resolve()
    prepare_output(out)
    init_project(out)
    full = make_structure(cfg.structure_kind, cfg.mass_kda, cfg.seed, cfg.structure_symmetry)
    part, part_info = partial_structure(full, cfg.seed)
    pcfg = cfg.particles
    pcfg.structure_fractions = (1.0 - cfg.partial_fraction, cfg.partial_fraction)
    pset = simulate_particles([full, part], pcfg, cfg.seed)
    write_particle_set(pset, out, pcfg.stack_name)
    true_map = full.render(pcfg.pixel_size, pcfg.box)
    write_map(out / REFERENCE, lowpass(true_map, pcfg.pixel_size, cfg.reference_lowpass_A), pcfg.pixel_size)
    diameter = particle_diameter(full.provenance["max_diameter_A"], pcfg.box, pcfg.pixel_size)
    wall = run_class3d(out, cfg, diameter)
    prune_class3d(out / CLASS3D_JOB, cfg.n_iter, cfg.n_classes)
    root = f"{CLASS3D_JOB}run_it{cfg.n_iter:03d}"
    data = starfile.read(out / f"{root}_data.star", always_dict=True)["particles"]
    merged, labels = class_labels_3d(data, pset.truth, cfg.n_classes)
    gt = out / "ground_truth"
    gt.mkdir()
    merged.to_csv(gt / "particles_truth.csv", index=False, float_format="%.3f")
    labels.to_csv(gt / "class_labels.csv", index=False)
    write_half_map(gt / "true_map.mrc", true_map, pcfg.pixel_size)
    add_select_job_3d(out, f"{root}_data.star", f"{root}_model.star", labels)
    if not keep_stacks:
        for extra in ("Simulated/particles.mrcs", "Simulated/particles.star", "Simulated/particles_truth.csv",
                      REFERENCE):
            (out / extra).unlink(missing_ok=True)
    summary = {
        "seed": cfg.seed, "class3d_wall_s": round(wall, 1), "build_wall_s": round(time.monotonic() - started, 1),
        "particle_diameter_A": diameter, "class3d_options": class3d_options(cfg, diameter),
        "relion_command": (out / CLASS3D_JOB / "note.txt").read_text().strip().splitlines()[-1],
        "label_rule": LABEL_RULE_3D, "structure": full.provenance, "partial_structure": part_info,
        "partial_max_diameter_A": part.provenance["max_diameter_A"],
        "config": asdict(cfg), "kind_counts": pset.truth["kind"].value_counts().to_dict(),
        "structure_counts_true_particles": {
            "intended": int(((pset.truth["is_good"] == 1) & (pset.truth["structure_id"] == 0)).sum()),
            "partial": int(((pset.truth["is_good"] == 1) & (pset.truth["structure_id"] == 1)).sum())},
        "n_good_classes": int(labels["label"].sum()), "n_classes": cfg.n_classes,
        "ground_truth_maps": "true_map.mrc: the intended structure, float16 MRC (mode 12; half the bytes, read by "
                             "mrcfile, not by RELION 3.1), box and pixel size of the particles; the partial structure "
                             "is regenerable with partial_structure(make_structure(...)); the reference was true_map low-pass filtered to "
                             f"{cfg.reference_lowpass_A:g} A (raised-cosine edge), float32, deleted after the run",
        "deleted_after_run": [] if keep_stacks else ["Simulated/particles.mrcs", "Simulated/particles.star",
                                                     "Simulated/particles_truth.csv", REFERENCE],
        "provenance": "cryodiscovery_dev.relion_class3d.build_class3d_project; Debian relion 3.1.3 "
                      "relion_refine (CPU, double precision) through relion_pipeliner",
    }
    (gt / "simulation.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary
