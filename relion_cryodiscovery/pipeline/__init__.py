"""The whole job: RELION job in -> classes with features -> ensemble scores -> selection out.

Modules, by purpose:

* :mod:`.parameters` -- :class:`JobParameters`, the External tab's Params and their checks.
* :mod:`.runner` -- :func:`run_job`: RELION's state files, abort, ``$HOME``/cache redirection, native stderr.
* :mod:`.sources` -- what a run reads: a job by any of its STAR files or its directory, or a bare stack.
* :mod:`.inference` -- the model directory and card, the one model-loader interface, inference, domain check.
* :mod:`.class_scores` -- :class:`ClassScores`, the one per-class table from the ensemble to the writers.
* :mod:`.writing` -- the selection's RELION files, the score tables, the montage, ``run.out``'s report.
* :mod:`.montage` -- the class montage PNG.
* :mod:`.jobs` -- :func:`select_job` and :func:`score_input`, the two runs.
* :mod:`.deferred` -- the heavy imports, made once and late.

The library's two verbs, :func:`relion_cryodiscovery.score` and :func:`relion_cryodiscovery.select`,
and every command line run through :func:`run_job`.
"""

from .jobs import score_input, select_job
from .parameters import JobParameters
from .runner import run_job
from .class_scores import SCORE_COLUMNS, ClassScores

__all__ = ["SCORE_COLUMNS", "ClassScores", "JobParameters", "run_job", "score_input", "select_job"]
