"""Wall-clock timing of a run's steps (the ``time ...`` lines of ``run.out``); no domain knowledge."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

#: (step label, seconds) in the order the steps ended.
StepLog = list[tuple[str, float]]


@contextmanager
def timed(label: str, log: StepLog) -> Iterator[None]:
    """Record how long the block took under ``label``."""
    start = time.perf_counter()
    yield
    log.append((label, time.perf_counter() - start))
