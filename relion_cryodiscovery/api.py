"""The library's two verbs: :func:`score` a job or a stack, :func:`select` (the External job) from Python.

Both run the same code as the command lines (:mod:`relion_cryodiscovery.pipeline`), inside RELION's
state-file contract, and return the per-class table of ``cryodiscovery_scores.csv`` as a DataFrame.
Every keyword is spelt out with its type and default (the defaults of
:class:`~relion_cryodiscovery.pipeline.JobParameters`), so a misspelt keyword is a :class:`TypeError`
at the call, before anything runs. Errors of a run are raised
(:class:`~relion_cryodiscovery.errors.CryoDiscoveryError` names the file and the problem) instead of
printed; the output directory then holds ``RELION_JOB_EXIT_FAILURE``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .pipeline import ClassScores, JobParameters, run_job, score_input, select_job
from .relion.sentinels import OutputDirectory

if TYPE_CHECKING:
    import pandas


#: ``select_job`` or ``score_input``: (input path, output dir, parameters, output) -> the run's scores.
Run = Callable[[str, str, JobParameters, OutputDirectory], ClassScores]


def _run(out_dir: str, run: Run, source: str | Path, parameters: JobParameters) -> ClassScores:
    """``run`` inside RELION's state-file contract in ``out_dir``, errors raised; its scores."""
    scores: list[ClassScores] = []
    run_job(out_dir, lambda output: scores.append(run(str(source), out_dir, parameters, output)), raise_errors=True)
    return scores[0]


def score(
    source: str | Path,
    model: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    min_score: float | None = None,
    strictness: str = "balanced",
    contrast: str = "auto",
    min_particles: int = 0,
    min_classes: int = 0,
    gpus: str = "",
    batch_size: int = 256,
    threads: int | None = None,
    montage: bool | None = None,
    angpix: float | None = None,
    groups: int | str = 0,
) -> "pandas.DataFrame":
    """Score every class of ``source``: one row per class with the columns of ``cryodiscovery_scores.csv``
    (``class_number, score, selected, p_d1, p_d2, p_d3, d3_used, particles, reason, junk_kind,
    junk_kind_probability, grade``).

    >>> table = score("Class2D/job010/")                                      # doctest: +SKIP
    >>> table.loc[table.selected == 1, "class_number"].tolist()               # doctest: +SKIP

    Args:
        source: A Class2D/Class3D job directory (its last iteration), any ``*_model.star``,
            ``*_optimiser.star`` or ``*_data.star`` of one (RELION 3.0's files too), a ``.mrcs`` stack of
            class averages (give ``angpix`` unless its header has the pixel size) or a ``.mrc`` 3D map
            (one 3D class).
        model: A model directory (``d1/d2/d3`` and ``model_card.json``); None = the shipped model.
        out_dir: If given, receives the score files (``cryodiscovery_scores.csv/.star/.json``), the
            montage and RELION's state files, as ``relion_cryodiscovery score`` writes them; None =
            nothing is kept (a temporary directory is used and removed).
        min_score: The ``selected`` column's threshold on the calibrated P(good), an absolute override of
            ``strictness``; None = the model's operating point.
        strictness: ``"lenient"``, ``"balanced"`` or ``"strict"``: the model's operating point for the
            ``selected`` column (balanced and strict also judge each class against the job's best classes).
        contrast: ``"auto"`` (detect protein-dark classes and score them flipped), ``"normal"`` or
            ``"inverted"`` (force the input's polarity).
        min_particles: Classes with fewer particles are not selected.
        min_classes: At least this many best-scoring classes are selected, even below the threshold.
        gpus: ``""`` = all visible GPUs, ``"cpu"`` = CPU only, or a list such as ``"0,1"``.
        batch_size: Classes per inference batch (1-65536).
        threads: CPU threads for inference (RELION's ``--j``, 1-1024); None = the runtime's default.
        montage: Draw ``cryodiscovery_montage.png``; None = only when ``out_dir`` is given.
        angpix: Pixel size in Angstrom (0.05-100) for a bare stack; ignored for a RELION job.
        groups: ``0`` (off), a number of groups (up to 50) or ``"auto"``: group the selected 2D classes by
            structure (:mod:`relion_cryodiscovery.data.grouping`), as a last ``group`` column (0 for the
            classes not selected).

    Returns:
        The score table, one row per class in class order (the ``cryodiscovery_scores.csv`` written
        into ``out_dir``, read back by pandas, holds the same).

    Raises:
        TypeError: A keyword this function does not take (a misspelt parameter), at the call, before
            anything is read or written.
        CryoDiscoveryError: A parameter is out of range (``strictness`` not a level, ``batch_size`` 0,
            ...), ``source`` or a file it names is missing or unreadable, the model directory is not a
            usable model, ``out_dir`` cannot be created or written, or the run needs TensorFlow where it
            is not installed. The message is one line naming the file and the problem; ``out_dir`` (if
            given) then holds ``RELION_JOB_EXIT_FAILURE``.
        JobAborted: ``RELION_JOB_ABORT_NOW`` appeared in ``out_dir`` during the run;
            ``RELION_JOB_EXIT_ABORTED`` is written and no outputs are kept.
        OSError: Reading or writing failed below our checks (a full disk, a file removed mid-run);
            ``out_dir`` then holds ``RELION_JOB_EXIT_FAILURE``.
    """
    parameters = JobParameters(
        min_score=min_score, strictness=strictness, contrast=contrast, min_particles=min_particles,
        min_classes=min_classes, model=str(model) if model else None, gpus=gpus, batch_size=batch_size,
        threads=threads, montage=out_dir is not None if montage is None else montage, angpix=angpix, groups=groups)
    if out_dir is not None:
        return _run(str(out_dir), score_input, source, parameters).table()
    with tempfile.TemporaryDirectory(prefix="cryodiscovery_score_") as scratch:
        return _run(scratch, score_input, source, parameters).table()


def select(
    source: str | Path,
    out_dir: str | Path,
    *,
    min_score: float | None = None,
    strictness: str = "balanced",
    contrast: str = "auto",
    min_particles: int = 0,
    min_classes: int = 0,
    model: str | Path | None = None,
    gpus: str = "",
    batch_size: int = 256,
    relion_version: str = "auto",
    threads: int | None = None,
    montage: bool = True,
    groups: int | str = 0,
) -> "pandas.DataFrame":
    """The External job: score the classes of a Class2D/Class3D job and write the selection RELION
    continues from into ``out_dir``; returns the score table.

    The keywords are the External tab's Params. As in RELION, paths inside the job's STAR files are read
    relative to the working directory (the project), else to the project the job path implies.

    >>> select("Class2D/job010/run_it025_data.star", "External/job011/", min_particles=20)  # doctest: +SKIP

    Args:
        source: The job's ``run_itNNN_data.star`` (or another file of that iteration: ``_model.star``,
            ``_optimiser.star``; or the job directory: its last iteration).
        out_dir: The External job's directory: receives ``particles.star``, ``class_averages.star`` (2D)
            or ``class_NNN.mrc`` (3D), ``backup_selection.star``, ``rank_*.star``, the score tables, the
            montage, ``RELION_OUTPUT_NODES.star`` and, last, ``RELION_JOB_EXIT_SUCCESS``.
        min_score: Keep classes with calibrated P(good) >= this, an absolute override of ``strictness``;
            None = the model's operating point.
        strictness: ``"lenient"``, ``"balanced"`` or ``"strict"``: the model's operating point (balanced
            and strict also drop classes well below the job's best classes that look unlike them).
        contrast: ``"auto"`` (detect protein-dark classes and score them flipped), ``"normal"`` or
            ``"inverted"`` (force the input's polarity).
        min_particles: Classes with fewer particles are not selected.
        min_classes: At least this many best-scoring classes are kept, even below the threshold.
        model: A model directory; None = the shipped model.
        gpus: ``""`` = all visible GPUs, ``"cpu"`` = CPU only, or a list such as ``"0,1"``.
        batch_size: Classes per inference batch (1-65536).
        relion_version: ``"auto"`` (from the project's job.star), ``"3.1"``, ``"4.0"`` or ``"5.0"``: which
            output-node labels to write.
        threads: CPU threads for inference (RELION's ``--j``, 1-1024); None = the runtime's default.
        montage: Write ``cryodiscovery_montage.png``.
        groups: ``0`` (off), a number of groups (up to 50) or ``"auto"``: group the kept 2D classes by
            structure (:mod:`relion_cryodiscovery.data.grouping`) and write each group's particles to
            ``particles_group_N.star`` (a last ``group`` column in the table, 0 for classes not kept).

    Returns:
        The score table, one row per class in class order (as ``cryodiscovery_scores.csv`` in ``out_dir``).

    Raises:
        TypeError: A keyword this function does not take (a misspelt parameter), at the call, before
            anything is read or written.
        CryoDiscoveryError: A parameter is out of range, ``source`` or a file it names is missing or
            unreadable, the model directory is not a usable model, ``out_dir`` cannot be created or
            written, the run needs TensorFlow where it is not installed, or no class passes (the selected
            classes hold no particles). The message is one line naming the file and the problem;
            ``out_dir`` then holds ``RELION_JOB_EXIT_FAILURE`` and none of the outputs.
        JobAborted: ``RELION_JOB_ABORT_NOW`` appeared in ``out_dir`` during the run;
            ``RELION_JOB_EXIT_ABORTED`` is written and no outputs are kept.
        OSError: Reading or writing failed below our checks (a full disk, a file removed mid-run);
            ``out_dir`` then holds ``RELION_JOB_EXIT_FAILURE``.
    """
    parameters = JobParameters(
        min_score=min_score, strictness=strictness, contrast=contrast, min_particles=min_particles,
        min_classes=min_classes, model=str(model) if model else None, gpus=gpus, batch_size=batch_size,
        relion_version=relion_version, threads=threads, montage=montage, groups=groups)
    return _run(str(out_dir), select_job, source, parameters).table()
