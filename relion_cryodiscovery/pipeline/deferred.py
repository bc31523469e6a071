"""The pipeline's heavy imports, made once and late: after the model worker has started.

The modules in :data:`HEAVY_MODULES` pull in pandas, starfile, scipy, scikit-image and mrcfile
(~0.7-1.5 s); imported after :class:`~relion_cryodiscovery.model.worker.ModelWorker` started, they
overlap TensorFlow's start-up in the worker instead of delaying it. The pipeline's modules reach
them as module attributes (``relion_job.read_job``), so a test can patch them where they are defined.
"""

from __future__ import annotations

import gc
import importlib
import sys
from contextlib import contextmanager
from typing import Iterator

#: Relative to ``relion_cryodiscovery``.
HEAVY_MODULES = ("data.inputs", "data.preprocess", "relion.outputs", "relion.job")
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
    """Import :data:`HEAVY_MODULES` (with the garbage collector paused) unless they already are."""
    missing = [name for name in HEAVY_MODULES if f"{_PACKAGE}.{name}" not in sys.modules]
    if missing:
        with gc_paused():
            for name in missing:
                importlib.import_module(f"{_PACKAGE}.{name}")
