"""The library's two verbs: :func:`score` a job or a stack, :func:`select` (the External job) from Python.

Both run the same code as the command lines (:mod:`relion_cryodiscovery.pipeline`), inside RELION's
state-file contract, and return the per-class table of ``cryodiscovery_scores.csv`` as a DataFrame.
Errors are raised (:class:`~relion_cryodiscovery.errors.CryoDiscoveryError` names the file and the
problem) instead of printed; the output directory then holds ``RELION_JOB_EXIT_FAILURE``.
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


def score(source: str | Path, model: str | Path | None = None, out_dir: str | Path | None = None,
          **options: object) -> "pandas.DataFrame":
    """Score every class of ``source``: one row per class with the columns of ``cryodiscovery_scores.csv``
    (``class_number, score, selected, p_d1, p_d2, p_d3, d3_used, particles, reason``).

    ``source`` is a Class2D/Class3D job directory (its last iteration), any ``*_model.star``,
    ``*_optimiser.star`` or ``*_data.star`` of one (RELION 3.0's files too), a ``.mrcs`` stack of class
    averages (give ``angpix``) or a ``.mrc`` 3D map (one 3D class). ``model`` is a model directory
    (default: the shipped model). ``out_dir``, if given, receives the score files and the montage, as
    ``relion_cryodiscovery score`` writes them; else nothing is kept (and no montage is drawn).
    ``options`` are :class:`JobParameters` fields: ``min_score``, ``min_particles``, ``min_classes``,
    ``gpus``, ``batch_size``, ``threads``, ``montage``, ``angpix``.

    >>> table = score("Class2D/job010/")                                      # doctest: +SKIP
    >>> table.loc[table.selected == 1, "class_number"].tolist()               # doctest: +SKIP
    """
    if out_dir is None:
        options.setdefault("montage", False)
    parameters = JobParameters.from_options({**options, "model": str(model) if model else None})
    if out_dir is not None:
        return _run(str(out_dir), score_input, source, parameters).table()
    with tempfile.TemporaryDirectory(prefix="cryodiscovery_score_") as scratch:
        return _run(scratch, score_input, source, parameters).table()


def select(source: str | Path, out_dir: str | Path, **params: object) -> "pandas.DataFrame":
    """The External job: score the classes of a Class2D/Class3D job and write the selection RELION
    continues from into ``out_dir`` (``particles.star``, ``class_averages.star``, ...,
    ``RELION_OUTPUT_NODES.star``, ``RELION_JOB_EXIT_SUCCESS``); returns the score table.

    ``source`` is the job's ``run_itNNN_data.star`` (or another file of that iteration, or the job
    directory). ``params`` are the External tab's Params (:class:`JobParameters` fields):
    ``min_score``, ``min_particles``, ``min_classes``, ``model``, ``gpus``, ``batch_size``,
    ``relion_version``, ``threads``, ``montage``. As in RELION, paths inside the job's STAR files are
    read relative to the working directory (the project), else to the project the job path implies.

    >>> select("Class2D/job010/run_it025_data.star", "External/job011/", min_particles=20)  # doctest: +SKIP
    """
    parameters = JobParameters.from_options(params)
    return _run(str(out_dir), select_job, source, parameters).table()
