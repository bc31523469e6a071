"""Small RELION Class2D projects around the lab-like simulator's class averages (the tests' and benchmarks' jobs).

No ``relion_refine`` is run, and no class average is formed here: the class images, their particle counts,
their RELION per-class metadata and their labels all come from :func:`.lab_classes.simulate_job` (the one
simulator of class averages; labels by :func:`.truth.label_is_good`). This module draws a small, quick
version of a lab job (:func:`project_job_spec`) and writes the project a RELION user has after Class2D and a
Select job (:func:`write_class2d_project`):

* ``Class2D/job001/run_it025_data.star``: one particle row per particle of each class (RELION 3.1's 19
  Class2D columns: optics, CTF, micrograph, angles, offsets, class number, pmax ...), in a shuffled order;
* ``run_it025_model.star`` (the classes' metadata from the simulator), ``run_it025_optimiser.star``,
  ``run_it025_classes.mrcs`` (the simulator's float images, zero-masked as RELION writes them);
* ``Select/job002/``: ``backup_selection.star`` holds the labels (what training reads as ground truth);
* ``default_pipeline.star`` joining them.

A job is drawn again (a new attempt of the same seed) until it holds both good and junk classes, as the
tests' training and selection need.
"""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from relion_cryodiscovery.relion.classes import ClassSet

from .lab_averaging import LabJobSpec
from .lab_classes import LabClass, random_job_spec, simulate_job
from .lab_models import model_pool, point_model
from .particles import ParticleConfig, micrograph_ctfs, relion_tables
from .relion_files import (NODE_2DREFS, NODE_MODEL, NODE_PART_DATA, PROC_CLASS2D, PROC_SELECT, image_names,
                           write_pipeline, write_select_job, write_star, write_stack)
from .truth import VIEW_LABEL_RULE, is_particle_view

ITER = 25
JOB, SELECT = "Class2D/job001/", "Select/job002/"
#: RELION's tau2_fudge for 2D classification (as :mod:`.lab_averaging` forms the averages).
TAU_FUDGE = 2.0
#: Structures of at most this diameter (A), so that the job's box stays small without coarse pixels.
MAX_DIAMETER_A = 160.0
#: Largest box (px): bigger boxes are binned to it, field of view (and so the particle's fill) kept, as labs
#: bin their data for a first 2D classification.
MAX_BOX = 96
#: Classes per job and particles per class (uniform, upper bounds exclusive): a few thousand to ~35,000 rows.
N_CLASSES = (20, 61)
PARTICLES_PER_CLASS = (150, 601)
#: Attempts at a job with both good and junk classes before giving up.
MAX_ATTEMPTS = 30
#: How a RELION job hands its classes over: float images in a zero mask, with the job's metadata.
RELION_HANDOVER = {"style": "relion_float", "metadata": "relion", "header_pixel_size": True, "figure_scale": 1.0,
                   "mask": "zero", "stretch_percentile": 0.0, "jpeg_quality": 95, "invert": False,
                   "per_image_range": True}


def project_models() -> list[str]:
    """The committed atomic models a project draws from (at most :data:`MAX_DIAMETER_A` across)."""
    return [m for m in model_pool() if point_model(m).diameter_a <= MAX_DIAMETER_A]


def _attempt_seed(seed: int, attempt: int) -> int:
    return seed if attempt == 0 else int(np.random.default_rng([seed, attempt]).integers(0, 2**31 - 1))


def project_job_spec(seed: int, attempt: int = 0) -> LabJobSpec:
    """A lab job drawn by :func:`.lab_classes.random_job_spec`, made small and quick: binned to at most
    :data:`MAX_BOX` px, :data:`N_CLASSES` classes of :data:`PARTICLES_PER_CLASS` particles, RELION's hand-over."""
    spec_seed = _attempt_seed(seed, attempt)
    rng = np.random.default_rng([spec_seed, 2])
    spec = random_job_spec(rng, spec_seed, project_models())
    box, pixel_size = spec.box, spec.pixel_size
    if box > MAX_BOX:
        box, pixel_size = MAX_BOX, round(pixel_size * box / MAX_BOX, 3)
    k = int(rng.integers(*N_CLASSES))
    return dataclasses.replace(spec, box=box, pixel_size=pixel_size, n_classes=k,
                               n_particles=int(rng.integers(*PARTICLES_PER_CLASS)) * k, handover=dict(RELION_HANDOVER))


def simulate_project_job(seed: int) -> tuple[LabJobSpec, ClassSet, list[LabClass]]:
    """The first attempt of :func:`project_job_spec` whose simulated job has good and junk classes."""
    for attempt in range(MAX_ATTEMPTS):
        spec = project_job_spec(seed, attempt)
        classes, truth = simulate_job(spec)
        good = [c.good for c in truth]
        if any(good) and not all(good):
            return spec, classes, truth
    raise RuntimeError(f"no job with both good and junk classes in {MAX_ATTEMPTS} attempts of seed {seed}")


def truth_table(truth: list[LabClass]) -> pd.DataFrame:
    """``class_number,label,kind,n_particles,purity,resolution_a,model`` of a simulated job's classes."""
    return pd.DataFrame({
        "class_number": np.arange(1, len(truth) + 1), "label": [int(c.good) for c in truth],
        "kind": [c.kind for c in truth], "n_particles": [c.n_particles for c in truth],
        "purity": [round(c.purity, 4) for c in truth], "resolution_a": [round(c.resolution_a, 2) for c in truth],
        "model": [c.model for c in truth],
    })


def _data_table(rng: np.random.Generator, spec: LabJobSpec, base: pd.DataFrame, cls: np.ndarray,
                view: np.ndarray) -> pd.DataFrame:
    """run_it025_data.star particles: the input columns plus what Class2D adds (``view``: whether each
    particle's class is a particle view, whose members align with a higher probability)."""
    n = len(cls)
    pmax = np.where(view, rng.beta(4, 2, n), rng.beta(1.5, 4, n))
    data = base.copy()
    data["rlnGroupNumber"] = data["rlnMicrographName"].str.extract(r"(\d+)")[0].astype(int) + 1
    data["rlnAngleRot"] = 0.0
    data["rlnAngleTilt"] = 0.0
    data["rlnAnglePsi"] = rng.uniform(-180, 180, n).round(6)
    data["rlnOriginXAngst"] = (rng.normal(0, 1.5, n) * spec.pixel_size).round(6)
    data["rlnOriginYAngst"] = (rng.normal(0, 1.5, n) * spec.pixel_size).round(6)
    data["rlnClassNumber"] = cls
    data["rlnNormCorrection"] = rng.normal(0.8, 0.1, n).round(6)
    data["rlnLogLikeliContribution"] = (rng.normal(3e4, 2e3, n) * (spec.box / 64) ** 2).round(3)
    data["rlnMaxValueProbDistribution"] = pmax.round(6)
    data["rlnNrOfSignificantSamples"] = np.maximum(1, np.round(1 / np.maximum(pmax, 0.01) ** 1.5)).astype(int)
    return data


def _model_classes(rng: np.random.Generator, classes: ClassSet, stack: str) -> pd.DataFrame:
    """The ``model_classes`` table: the simulator's per-class metadata, plus RELION's prior offsets."""
    k = classes.n_classes
    table = pd.DataFrame({"rlnReferenceImage": image_names(stack, k)})
    for name, values in classes.metadata.items():
        table[name] = np.round(np.asarray(values, float), 6)
    table["rlnClassPriorOffsetX"] = rng.normal(0, 0.3, k).round(6)
    table["rlnClassPriorOffsetY"] = rng.normal(0, 0.3, k).round(6)
    return table


def _model_general(spec: LabJobSpec, resolution: float, data: pd.DataFrame) -> dict:
    return {
        "rlnReferenceDimensionality": 2, "rlnDataDimensionality": 2, "rlnOriginalImageSize": spec.box,
        "rlnCurrentResolution": round(resolution, 6),
        "rlnCurrentImageSize": int(min(spec.box, 2 * round(spec.box * spec.pixel_size / resolution) + 2)),
        "rlnPaddingFactor": 2.0, "rlnIsHelix": 0, "rlnFourierSpaceInterpolator": 1, "rlnMinRadiusNnInterpolation": 10,
        "rlnPixelSize": spec.pixel_size, "rlnNrClasses": spec.n_classes, "rlnNrBodies": 1,
        "rlnNrGroups": int(data["rlnGroupNumber"].max()), "rlnTau2FudgeFactor": TAU_FUDGE,
        "rlnNormCorrectionAverage": round(float(data["rlnNormCorrection"].mean()), 6),
        "rlnSigmaOffsetsAngst": round(1.5 * spec.pixel_size, 6), "rlnOrientationalPriorMode": 0,
        "rlnSigmaPriorRotAngle": 0.0, "rlnSigmaPriorTiltAngle": 0.0, "rlnSigmaPriorPsiAngle": 0.0,
        "rlnLogLikelihood": round(float(data["rlnLogLikeliContribution"].sum()), 3),
        "rlnAveragePmax": round(float(data["rlnMaxValueProbDistribution"].mean()), 6),
    }


def _optimiser_general(spec: LabJobSpec, root: str, diameter: float) -> dict:
    return {
        "rlnOutputRootName": f"{JOB}run", "rlnModelStarFile": f"{root}_model.star",
        "rlnExperimentalDataStarFile": f"{root}_data.star", "rlnOrientSamplingStarFile": f"{root}_sampling.star",
        "rlnCurrentIteration": ITER, "rlnNumberOfIterations": ITER, "rlnDoSplitRandomHalves": 0,
        "rlnParticleDiameter": round(diameter, 1), "rlnDoCorrectCtf": 1, "rlnDoIgnoreCtfUntilFirstPeak": 0,
        "rlnDoZeroMask": 1, "rlnDoSolventFlattening": 1, "rlnTau2FudgeFactor": TAU_FUDGE,
        "rlnRandomSeed": spec.seed, "rlnOffsetRange": 5.0, "rlnOffsetStep": 2.0, "rlnPsiStep": 12.0,
    }


def _write_project_pipeline(project: Path, root: str) -> None:
    data, model = f"{root}_data.star", f"{root}_model.star"
    parts, avgs = f"{SELECT}particles.star", f"{SELECT}class_averages.star"
    write_pipeline(project / "default_pipeline.star", 3,
                   processes=[(JOB, "None", PROC_CLASS2D, 2), (SELECT, "None", PROC_SELECT, 2)],
                   nodes=[("Simulated/particles.star", NODE_PART_DATA), (data, NODE_PART_DATA), (model, NODE_MODEL),
                          (parts, NODE_PART_DATA), (avgs, NODE_2DREFS)],
                   input_edges=[("Simulated/particles.star", JOB), (model, SELECT)],
                   output_edges=[(JOB, data), (JOB, model), (SELECT, parts), (SELECT, avgs)])


def write_class2d_project(project: str | Path, spec: LabJobSpec, classes: ClassSet,
                          truth: list[LabClass]) -> pd.DataFrame:
    """Write the Class2D + Select project of one simulated job under ``project``; return :func:`truth_table`.

    ``classes`` must carry RELION metadata (``spec.handover["metadata"] == "relion"``)."""
    if classes.particle_counts is None or not classes.metadata:
        raise ValueError("the classes carry no RELION metadata (a bare hand-over); use RELION_HANDOVER")
    project = Path(project)
    rng = np.random.default_rng([spec.seed, 3])
    counts = classes.particle_counts
    pcfg = ParticleConfig(n_particles=int(counts.sum()), box=spec.box, pixel_size=spec.pixel_size,
                          voltage=spec.voltage, defocus_range=tuple(spec.defocus_range_a),
                          particles_per_micrograph=int(rng.integers(30, 200)))
    mic, ctfs, _ = micrograph_ctfs(rng, pcfg)
    optics, base = relion_tables(pcfg, mic, ctfs)
    cls = rng.permutation(np.repeat(classes.class_numbers, counts))
    views = np.array([is_particle_view(c.kind, c.purity) for c in truth])
    data = _data_table(rng, spec, base, cls, views[cls - 1])

    root = f"{JOB}run_it{ITER:03d}"
    write_stack(project / f"{root}_classes.mrcs", classes.images, spec.pixel_size)
    write_star(project / f"{root}_data.star", {"optics": optics, "particles": data})
    model_classes = _model_classes(rng, classes, f"{root}_classes.mrcs")
    resolution = np.asarray(classes.metadata["rlnEstimatedResolution"], float)
    current = float(resolution[resolution < 999].min()) if (resolution < 999).any() else 50.0
    write_star(project / f"{root}_model.star", {"model_general": _model_general(spec, current, data),
                                                "model_classes": model_classes})
    diameter = classes.particle_diameter or spec.diameter_a
    write_star(project / f"{root}_optimiser.star", {"optimiser_general": _optimiser_general(spec, root, diameter)})
    (project / JOB / "note.txt").write_text(
        "++++ Class2D job written by cryodiscovery_dev.simulate.class_average_jobs (no relion_refine run;\n"
        f"++++ class averages from lab_classes.simulate_job); spec: {json.dumps(spec.to_dict())}\n")
    (project / JOB / "RELION_JOB_EXIT_SUCCESS").touch()
    table = truth_table(truth)
    write_select_job(project, SELECT, optics, data, model_classes, table["label"].to_numpy(),
                     f"++++ Select job from ground truth ({VIEW_LABEL_RULE})\n", write_particles=False)
    _write_project_pipeline(project, root)
    return table


def make_class2d_job(project: str | Path, seed: int) -> tuple[LabJobSpec, pd.DataFrame]:
    """Simulate job ``seed`` (:func:`simulate_project_job`) and write its project; return its spec and truth."""
    spec, classes, truth = simulate_project_job(seed)
    return spec, write_class2d_project(project, spec, classes, truth)


def _corpus_job(args: tuple[Path, int, int]) -> dict:
    out, i, seed = args
    spec, table = make_class2d_job(out / f"sim{i:04d}", seed)
    return {"project": f"sim{i:04d}", "class2d_job": JOB, "select_job": SELECT,
            "model_star": f"{JOB}run_it{ITER:03d}_model.star", "seed": seed, "spec_seed": spec.seed,
            "models": "+".join(spec.models), "n_classes": spec.n_classes,
            "n_particles": int(table["n_particles"].sum()), "n_good": int(table["label"].sum()), "box": spec.box, "pixel_size": spec.pixel_size,
            "diameter_a": spec.diameter_a, "junk_fraction": spec.junk_fraction, "snr": spec.snr,
            "bfactor": spec.bfactor, "voltage": spec.voltage}


def make_corpus(out_dir: str | Path, n_jobs: int, seed: int, workers: int = 1) -> pd.DataFrame:
    """Write ``n_jobs`` labelled Class2D projects ``sim0000...`` under ``out_dir`` plus ``manifest.csv``.

    Each job has its own seed drawn from ``seed``, so the first jobs of a larger corpus are a smaller one's
    and the output does not depend on ``workers`` (processes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, n_jobs)
    tasks = [(out, i, int(s)) for i, s in enumerate(seeds)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_corpus_job, tasks))
    else:
        rows = [_corpus_job(t) for t in tasks]
    manifest = pd.DataFrame(rows)
    manifest.to_csv(out / "manifest.csv", index=False)
    return manifest
