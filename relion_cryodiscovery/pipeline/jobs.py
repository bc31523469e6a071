"""The two runs: :func:`select_job` (the External job: read a Class2D/Class3D job, score, select, write
RELION's outputs) and :func:`score_input` (score a job or a stack, write the score tables only).

Each runs inside :func:`~.runner.run_job` and goes: parameters checked, model started
(:mod:`.inference`), input read (:mod:`.sources`), classes scored, the rule applied
(:func:`decide`, :mod:`relion_cryodiscovery.selection`), the kept classes grouped when asked
(:func:`assign_groups`), outputs staged (:mod:`.writing`) and committed, ``run.out`` reported.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..relion.classes import ClassSet
from ..data.features import feature_values
from ..errors import CryoDiscoveryError
from ..model.card import ModelCard
from ..relion.nodes import NODES_FILE, choose_version, version_conflict
from ..relion.sentinels import OutputDirectory
from ..selection import SelectionRule, select_classes
from ..timing import StepLog, timed
from .deferred import import_heavy
from .parameters import JobParameters
from .class_scores import ClassScores
from .inference import domain_check, model_directory, score_classes, start_model
from .sources import read_classes
from .writing import (SelectionOutputs, earlier_outputs, montage_tiles, montage_title, provenance, report,
                      stage_montage, stage_score_tables, start_particles, start_rank_data, write_selection)

if TYPE_CHECKING:
    from ..data.inputs import ModelInputs
    from ..relion.job import ClassificationJob, JobContents
    from .montage import MontageTiles


def decide(classes: ClassSet, scores: ClassScores, inputs: "ModelInputs", card: ModelCard,
           parameters: JobParameters, allow_empty: bool = False) -> float:
    """Apply the selection rule to ``scores`` (in place); returns the threshold this job was judged by.

    ``min_score``, when given, is an absolute override; else ``strictness`` picks the model's operating
    point (:meth:`~relion_cryodiscovery.model.card.ModelCard.operating_point`), which may raise the
    threshold to the job-relative bar when the job's best classes are strong.
    """
    if parameters.min_score is not None:
        rule = SelectionRule(parameters.min_score, parameters.min_particles, parameters.min_classes)
    else:
        rule = SelectionRule.at(card.operating_point(parameters.strictness), parameters.min_particles,
                                parameters.min_classes, f"strictness {parameters.strictness}")
    try:
        resolution, centre = (np.where(inputs.usable, feature_values(inputs.features, name), np.nan)
                              for name in ("spectral_resolution_kd", "ring_1"))
        decision = select_classes(scores.score, classes.particle_counts, inputs.problems, rule, allow_empty,
                                  resolution, centre)
    except CryoDiscoveryError as error:  # name the job whose classes were judged
        raise CryoDiscoveryError(error.path or classes.source, error.problem) from None
    scores.set_decision(decision.selected, decision.reasons, decision.eligible)
    scores.decision_notes = decision.bar_summary(scores.class_numbers, rule.min_score)
    return decision.threshold


def assign_groups(classes: ClassSet, scores: ClassScores, inputs: "ModelInputs", parameters: JobParameters,
                  log: StepLog) -> None:
    """Group the kept 2D classes by structure when ``groups`` asks for it (:mod:`..data.grouping`, on the
    model's views), into ``scores``; a Class3D job's classes are not grouped (each is a 3D structure)."""
    if parameters.grouping is None:
        return
    if classes.dimensionality != 2:
        print("NOTE: groups applies to 2D classes; the classes of a Class3D job are not grouped")
        return
    from ..data.grouping import group_classes

    kept = np.flatnonzero(scores.selected)
    groups = np.zeros(classes.n_classes, dtype=int)
    with timed("group classes", log):
        counts = classes.particle_counts[kept] if classes.particle_counts is not None else None
        groups[kept] = group_classes(inputs.images[kept, 0], parameters.grouping, counts)
    scores.set_groups(groups)


def note_skipped(classes: ClassSet, problems: list[str]) -> None:
    """Say which classes the job goes on without (unusable image, no particles)."""
    counts = classes.particle_counts if classes.particle_counts is not None else np.full(classes.n_classes, -1)
    for number, problem, count in zip(classes.class_numbers, problems, counts):
        if problem:
            print(f"NOTE: class {number} is not scored and not selected: {problem}")
        elif count == 0:
            print(f"NOTE: class {number} has no particles; it is not selected")


def nodes_version(parameters: JobParameters, output: OutputDirectory) -> str:
    """The RELION version whose labels ``RELION_OUTPUT_NODES.star`` is written with, said in ``run.out`` (with
    a warning when a version given explicitly conflicts with the job directory's)."""
    version, reason = choose_version(parameters.relion_version, output.path)
    print(f"RELION version for output nodes: {version} ({reason})")
    if parameters.relion_version != "auto":
        conflict = version_conflict(version, output.path)
        if conflict:
            print(f"WARNING: {conflict}", flush=True)
    return version


def warn_unknown(parameters: JobParameters) -> None:
    """Say which Params of the External tab the job does not know (and ignores)."""
    for label, value in parameters.unknown.items():
        print(f"WARNING: ignoring unknown parameter --{label} {value}".rstrip())


def read_input_job(input_path: str, copier: ThreadPoolExecutor,
                   log: StepLog) -> tuple["ClassificationJob", "JobContents"]:
    """Find and read the Class2D/Class3D job behind ``input_path`` (its data.star).

    The data.star's particle pass (1M rows: ~0.5 s of numpy) starts in ``copier``'s thread and runs beside
    the heavy imports (Python, :func:`~.deferred.import_heavy`); it may still run when this returns
    (``read_job(wait=False)``: the image preprocessing goes on beside it, and :func:`collect_particle_counts`
    takes it). :mod:`..relion.job` is imported here, not with this module, so that the model's load (started
    before) does not wait for it; it is reached through its module so that tests can patch ``read_job``.
    """
    from ..relion import job as relion_job, star

    job = relion_job.locate_job(input_path)
    scanning = copier.submit(star.scan_particles, job.data_star)
    with timed("imports", log):
        import_heavy()
    with timed("read job", log):
        contents = relion_job.read_job(job, scanning, wait=False)
    return job, contents


def collect_particle_counts(job: "ClassificationJob", contents: "JobContents") -> None:
    """The particle pass's counts per class, collected after the image preprocessing it ran beside
    (:func:`score_classes`'s ``before_metadata``)."""
    contents.collect_scan()
    if not contents.scan.has_optics:
        print(f"NOTE: {job.data_star} has no data_optics block (RELION 3.0 format); particles.star keeps "
              "that format, which RELION 3.1 and later convert when they read it")


class PendingMontage:
    """The montage's tiles, drawn while the model scores (:func:`score_classes`'s ``while_waiting``) when the
    montage is ``wanted``; :attr:`tiles` stays None otherwise."""

    def __init__(self, classes: ClassSet, wanted: bool):
        self.classes = classes
        self.wanted = wanted
        self.tiles: "MontageTiles | None" = None

    def draw_tiles(self, inputs: "ModelInputs") -> None:
        self.tiles = montage_tiles(self.classes, inputs)

    @property
    def while_waiting(self) -> Callable[["ModelInputs"], None] | None:
        return self.draw_tiles if self.wanted else None


def select_job(input_path: str, out_dir: str, parameters: JobParameters, output: OutputDirectory) -> ClassScores:
    """Score a Class2D/Class3D job and write the selection RELION continues from; returns the scores."""
    start = time.perf_counter()
    parameters.validate()
    log: StepLog = []
    prefix = out_dir if out_dir.endswith("/") else out_dir + "/"
    version = nodes_version(parameters, output)
    warn_unknown(parameters)
    output.check_abort()  # before TensorFlow starts
    model = start_model(model_directory(parameters.model), parameters)
    # copier: one thread that reads and writes the big files (the particle pass, rank_data.star, particles.star);
    # mostly I/O and numpy, they overlap the GIL-bound work here. On leaving, the model is closed, then the
    # copier's work waited for, whether the job ends or fails.
    with ThreadPoolExecutor(max_workers=1) as copier, closing(model):
        job, contents = read_input_job(input_path, copier, log)
        output.check_abort()
        rank_data = start_rank_data(output, job, copier)  # needs no scores
        classes = contents.classes
        montage = PendingMontage(classes, parameters.montage)
        scores, inputs, card, polarity = score_classes(classes, parameters, output, log, model,
                                                       montage.while_waiting,
                                                       partial(collect_particle_counts, job, contents))
        note_skipped(classes, inputs.problems)
        min_score = decide(classes, scores, inputs, card, parameters)
        particles = start_particles(output, job, contents, scores, copier)  # beside the domain check and the rest
        assign_groups(classes, scores, inputs, parameters, log)
        check = domain_check(scores, inputs, card)
        info = provenance(card, parameters, input_path, min_score, check, polarity, model.runtime())
        selection = SelectionOutputs(prefix, version, job, contents, scores, info, montage.tiles,
                                     montage_title(input_path, card, check, polarity))
        with timed("write outputs", log):
            names, n_particles = write_selection(output, selection, copier, rank_data, particles)
    output.check_abort()
    info["particles_written"] = str(n_particles)
    stale = [name for name in earlier_outputs(output.path) if name not in names]
    output.commit(names + [NODES_FILE], stale)
    log.append(("total", time.perf_counter() - start))
    report(log, scores, info, model)
    print(f"wrote {n_particles} of {len(contents.scan.class_numbers)} particles to {prefix}particles.star")
    return scores


def score_input(input_path: str, out_dir: str, parameters: JobParameters, output: OutputDirectory) -> ClassScores:
    """Score a job (directory, ``*_model.star``/``_optimiser.star``/``_data.star``) or a bare ``.mrcs``
    stack; writes the score tables and the montage, no selection files. Returns the scores."""
    start = time.perf_counter()
    parameters.validate()
    log: StepLog = []
    model = start_model(model_directory(parameters.model), parameters)
    with closing(model):
        import_heavy()
        with timed("read input", log):
            classes = read_classes(Path(input_path), parameters.angpix)
        montage = PendingMontage(classes, parameters.montage)
        scores, inputs, card, polarity = score_classes(classes, parameters, output, log, model,
                                                       montage.while_waiting)
    check = domain_check(scores, inputs, card)
    min_score = decide(classes, scores, inputs, card, parameters, allow_empty=True)
    assign_groups(classes, scores, inputs, parameters, log)
    info = provenance(card, parameters, input_path, min_score, check, polarity, model.runtime())
    names = stage_score_tables(output, scores, info)
    if parameters.montage:
        names += stage_montage(output, montage.tiles, scores, montage_title(input_path, card, check, polarity))
    output.commit(names, [])
    log.append(("total", time.perf_counter() - start))
    report(log, scores, info, model)
    return scores
