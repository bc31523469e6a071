"""The RELION job runner: every outcome of a run becomes RELION's state files, and the run stays inside ``--o``.

:func:`run_job` runs a piece of work against an :class:`~relion_cryodiscovery.relion.sentinels.OutputDirectory`:
success only after every output and the nodes file are in place; on any error one line in ``run.err``
naming the file and the problem, ``RELION_JOB_EXIT_FAILURE`` and no partial outputs; on
``RELION_JOB_ABORT_NOW`` (watched by a thread) ``RELION_JOB_EXIT_ABORTED``. Meanwhile Keras,
Matplotlib and ``tempfile`` write into the job's staging directory instead of ``$HOME``
(:func:`private_caches`), and what native code writes to stderr can be kept out of ``run.err``
(:func:`native_stderr_to_log`).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import traceback
from contextlib import contextmanager
from typing import Callable, Iterator

from ..errors import CryoDiscoveryError, JobAborted
from ..model.worker import native_log, print_log_tail
from ..relion.sentinels import ABORTED, AbortWatcher, OutputDirectory


def run_job(out_dir: str, work: Callable[[OutputDirectory], None], raise_errors: bool = False) -> int:
    """Run ``work`` with RELION's state-file contract; returns the process exit code.

    ``raise_errors`` (the library API): after the failure or abort state file is written, the error
    is raised instead of printed.
    """
    try:
        output = OutputDirectory(out_dir)
        output.clear_markers()
    except CryoDiscoveryError as error:
        if raise_errors:
            raise
        print(f"ERROR: {error.one_line()}", file=sys.stderr, flush=True)
        return 1

    def on_term(signum: int, _frame: object) -> None:
        raise CryoDiscoveryError(None, f"stopped by signal {signal.Signals(signum).name}")

    main_thread = threading.current_thread() is threading.main_thread()  # signals can only be set there
    previous = signal.signal(signal.SIGTERM, on_term) if main_thread else None
    try:
        with AbortWatcher(output), private_caches(output):
            work(output)
        return 0
    except JobAborted:
        print("Aborted: RELION_JOB_ABORT_NOW found; outputs discarded.", flush=True)
        code = output.fail(ABORTED)
        if raise_errors:
            raise
        return code
    except Exception as error:
        if not raise_errors:
            _print_error(error, out_dir)
        code = output.fail()
        if raise_errors:
            raise
        return code
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _print_error(error: Exception, out_dir: str) -> None:
    """The one line in ``run.err`` (a bug's traceback goes to ``run.out``)."""
    if isinstance(error, CryoDiscoveryError):
        line = error.one_line()
    elif isinstance(error, MemoryError):
        line = "out of memory"
    elif isinstance(error, OSError):
        line = f"{error.filename or out_dir}: {error.strerror or error}"
    else:
        traceback.print_exception(error, file=sys.stdout)
        line = f"unexpected {type(error).__name__}: {error}"
    print(f"ERROR: {line}", file=sys.stderr, flush=True)


#: Libraries that write configuration or caches under $HOME when first imported (kept if the user set them).
_CACHE_VARIABLES = {"KERAS_HOME": "keras", "MPLCONFIGDIR": "matplotlib"}


@contextmanager
def private_caches(output: OutputDirectory) -> Iterator[None]:
    """Point Keras, Matplotlib, ``tempfile`` and the user cache at the job's staging directory (removed
    at the end).

    The job then writes nothing outside ``--o``: Keras creates ``~/.keras/keras.json`` and
    Matplotlib (imported by Keras when TensorFlow was loaded in this process) a font cache on first
    import, TensorFlow's autograph writes temporary modules, and ONNX Runtime's import a device id
    and an (offline) telemetry database under ``$XDG_CACHE_HOME``, else ``~/.cache``
    (``Microsoft/DeveloperTools/.onnxruntime``; it opens no socket, checked with strace).
    ``KERAS_HOME``/``MPLCONFIGDIR`` set by the user are respected; temporary files and the user cache
    always stay here.
    """
    always = ("TMPDIR", "XDG_CACHE_HOME")
    saved = {name: os.environ.get(name) for name in (*_CACHE_VARIABLES, *always)}
    saved_tempdir = tempfile.tempdir
    for name, sub in (*_CACHE_VARIABLES.items(), ("TMPDIR", "tmp"), ("XDG_CACHE_HOME", "cache")):
        if saved[name] is None or name in always:
            directory = output.stage(sub)
            directory.mkdir(exist_ok=True)
            os.environ[name] = str(directory.resolve())
    tempfile.tempdir = None  # recomputed from TMPDIR on next use
    try:
        yield
    finally:
        tempfile.tempdir = saved_tempdir
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send what native code (TensorFlow's C++ start-up logging) writes to stderr into a log file.

    TensorFlow >= 2.20 logs device probing (``E0000 ... failed call to cuInit`` without a GPU) to
    stderr before ``TF_CPP_MIN_LOG_LEVEL`` takes effect; RELION shows run.err as errors, so it must
    hold only our one-line error, and in run.out those lines alarm users. The log (in the job's
    temporary directory) is copied into run.out only when the block fails.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    log = native_log()
    saved = os.dup(2)
    failed = False
    try:
        os.dup2(log.fileno(), 2)
        yield
    except BaseException:
        failed = True
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        log.close()
        if failed:
            print_log_tail(log.name, "TensorFlow's output")
        try:
            os.unlink(log.name)
        except OSError:
            pass
