"""RELION's job-state files and a staged, atomic way to write a job's outputs.

RELION ignores exit codes: a job's state is only the presence of ``RELION_JOB_EXIT_SUCCESS``,
``RELION_JOB_EXIT_FAILURE`` or ``RELION_JOB_EXIT_ABORTED`` in the job directory, and the GUI
asks a job to stop by creating ``RELION_JOB_ABORT_NOW``. :class:`OutputDirectory` writes every
output under a private staging directory, renames them into place together, and only then
writes the success marker; an abort or failure removes the staging directory, so readers never
see a truncated file. :class:`AbortWatcher` reacts to ``RELION_JOB_ABORT_NOW`` within half a
second at any stage (including TensorFlow start-up and model loading, which cannot poll).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

from ..errors import CryoDiscoveryError, JobAborted

SUCCESS = "RELION_JOB_EXIT_SUCCESS"
FAILURE = "RELION_JOB_EXIT_FAILURE"
ABORTED = "RELION_JOB_EXIT_ABORTED"
ABORT_NOW = "RELION_JOB_ABORT_NOW"
EXIT_CODES = {SUCCESS: 0, FAILURE: 1, ABORTED: 2}
#: Private directory (one per process) where outputs are written before they are renamed into place.
STAGING_PREFIX = ".cryodiscovery_staging_"


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a staging directory of a live run is left alone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def touch(path: Path) -> None:
    """Create an empty marker file."""
    with open(path, "w"):
        pass


class OutputDirectory:
    """The ``--o`` directory of one run: staging, commit, markers."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CryoDiscoveryError(self.path, f"output directory cannot be created ({error.strerror})") from None
        probe = self.path / f".cryodiscovery_write_test_{os.getpid()}"
        try:  # os.access says yes to root even on a read-only or immutable directory
            touch(probe)
            probe.unlink()
        except OSError as error:
            raise CryoDiscoveryError(self.path, f"output directory is not writable ({error.strerror})") from None
        self.staging = self.path / f"{STAGING_PREFIX}{os.getpid()}"
        self.lock = threading.RLock()
        self.finished = False

    def clear_markers(self) -> None:
        """Remove state files and dead staging directories of an earlier run (a killed run leaves one)."""
        for name in (SUCCESS, FAILURE, ABORTED):
            (self.path / name).unlink(missing_ok=True)
        for staging in self.path.glob(f"{STAGING_PREFIX}*"):
            pid = staging.name[len(STAGING_PREFIX):]
            if staging != self.staging and not (pid.isdigit() and _process_alive(int(pid))):
                shutil.rmtree(staging, ignore_errors=True)

    def stage(self, name: str) -> Path:
        """Where to write output ``name`` before it is committed (refused once the run has ended)."""
        with self.lock:
            if self.finished:
                raise JobAborted()
            self.staging.mkdir(exist_ok=True)
        return self.staging / name

    def _discard_staging(self) -> None:
        """Rename the staging directory away in one step, then delete it.

        A thread still writing cannot add files to the renamed directory (its paths no longer
        resolve), so the deletion cannot race with it and nothing is left behind.
        """
        if not self.staging.exists():
            return
        trash = self.staging.with_name(self.staging.name + ".discard")
        try:
            os.replace(self.staging, trash)
        except OSError:
            trash = self.staging
        shutil.rmtree(trash, ignore_errors=True)

    def commit(self, names: list[str], stale: list[str]) -> None:
        """Rename staged outputs into place, drop stale ones of an earlier run, then mark success.

        ``names`` are committed in order (the nodes file last); ``stale`` are earlier outputs that
        this run did not produce. Holds the lock so an abort cannot land half-way.
        """
        with self.lock:
            for name in stale:
                (self.path / name).unlink(missing_ok=True)
            for name in names:
                os.replace(self.staging / name, self.path / name)
            self._discard_staging()
            touch(self.path / SUCCESS)
            self.finished = True

    def fail(self, marker: str = FAILURE) -> int:
        """Drop staged files, write ``marker``; returns the exit code."""
        with self.lock:
            self._discard_staging()
            if not self.finished:
                try:
                    touch(self.path / marker)
                except OSError:
                    pass
                if marker == ABORTED:
                    (self.path / ABORT_NOW).unlink(missing_ok=True)
                self.finished = True
        return EXIT_CODES[marker]

    def abort_requested(self) -> bool:
        return (self.path / ABORT_NOW).exists()

    def check_abort(self) -> None:
        """Raise :class:`JobAborted` if RELION asked the job to stop."""
        if self.abort_requested():
            raise JobAborted()


class AbortWatcher:
    """A daemon thread that ends the process cleanly when ``RELION_JOB_ABORT_NOW`` appears."""

    def __init__(self, output: OutputDirectory, interval: float = 0.25):
        self.output = output
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="relion-abort-watcher", daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            if self.output.abort_requested():
                with self.output.lock:  # held until exit: no commit or staging can happen meanwhile
                    if self.output.finished:
                        return
                    code = self.output.fail(ABORTED)
                    print("Aborted: RELION_JOB_ABORT_NOW found; outputs discarded.", flush=True)
                    sys.stderr.flush()
                    os._exit(code)

    def __enter__(self) -> "AbortWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
