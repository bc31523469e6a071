"""The pipeline's heavy imports, made once and late: after the model has started loading and the
particle pass has started in a thread.

The modules in :data:`HEAVY_MODULES` and :data:`HEAVY_LIBRARIES` pull in pandas, starfile and scipy
(~0.5-1 s of single-threaded Python); imported after the model load (ONNX Runtime in a thread, or
TensorFlow's :class:`~relion_cryodiscovery.model.worker.ModelWorker`) and the data.star's particle
pass (numpy, mostly outside the GIL) started, they overlap those instead of delaying them. The
pipeline's modules reach them as module attributes (``relion_job.read_job``), so a test can patch
them where they are defined.
"""

from __future__ import annotations

import gc
import importlib
import sys
from contextlib import contextmanager
from typing import Iterator

#: Relative to ``relion_cryodiscovery``.
HEAVY_MODULES = ("data.inputs", "data.preprocess", "relion.outputs", "relion.job")
#: Libraries the package imports where first used (``relion/star.py`` reads small STAR files with starfile).
HEAVY_LIBRARIES = ("pandas", "starfile")
#: Set by the External executable, a process of its own: after the heavy imports every object so far
#: leaves the garbage collector's scans (``gc.freeze``, as the model worker does). Otherwise the next
#: collections walk the ~10^6 objects the imports made (~0.1 s of a job, docs/benchmarks.md). Not for
#: the library API: in a user's session it would exempt the session's own objects too.
FREEZE_AFTER_IMPORTS = False
_PACKAGE = __package__.rpartition(".")[0]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: big imports (pandas, scipy, Matplotlib) allocate
    hundreds of thousands of long-lived objects, and the collector's repeated scans of the growing
    heap cost ~10 % of their import time (docs/benchmarks.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_heavy() -> None:
    """Import :data:`HEAVY_MODULES` and :data:`HEAVY_LIBRARIES` (with the garbage collector paused)
    unless they already are."""
    missing = [f"{_PACKAGE}.{name}" for name in HEAVY_MODULES if f"{_PACKAGE}.{name}" not in sys.modules]
    missing += [name for name in HEAVY_LIBRARIES if name not in sys.modules]
    if missing:
        with gc_paused():
            for name in missing:
                importlib.import_module(name)
            if FREEZE_AFTER_IMPORTS:
                gc.freeze()
