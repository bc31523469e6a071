"""Errors that end a job with one clear line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path


class CryoDiscoveryError(Exception):
    """A problem the user can fix; printed as one line ``<file>: <problem>``."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = f"{self.path}: {self.problem}" if self.path else self.problem
        return " ".join(text.split())


class JobAborted(Exception):
    """RELION asked the job to stop (``RELION_JOB_ABORT_NOW`` appeared)."""
