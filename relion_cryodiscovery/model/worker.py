"""TensorFlow start-up, the ensemble load and inference in a child process (the model worker).

This is the TensorFlow path (GPUs, or a model without ONNX files; :mod:`.runtime`). On the CPU the
job scores with ONNX Runtime in its own process instead: its start-up (~0.3 s) is too short for a
second process to pay for itself (docs/benchmarks.md, issue #21).

Importing TensorFlow and Keras takes ~2-3 s of single-threaded, GIL-bound Python, more than
reading a 1M-particle ``data.star`` and preprocessing the classes. :class:`ModelWorker` starts
``python -m relion_cryodiscovery.model.worker`` as the job's first step, so on two cores the
import and the model load run truly in parallel with the job's own reading (a thread could not:
both halves hold the GIL). The parent sends the preprocessed class images and features over a
pipe; the worker runs the one inference implementation (:meth:`BoostedEnsemble.predict`, on the
tf.distribute strategy of :func:`load_ensemble`) and sends the scores back, then exits.

The worker writes nothing but its native start-up chatter (``E0000 ... failed call to cuInit`` on
machines without a GPU, oneDNN notes), which alarms users: its stdout and stderr go to a log file in
the job's temporary directory (:func:`native_log`), shown in ``run.out`` only when the worker fails.
It dies with the job: ``PR_SET_PDEATHSIG`` (SIGKILL when the parent ends,
however it ends: abort, SIGKILL, crash) and a thread that watches the parent's pid. An error in
the worker is sent back and raised in the parent as the same kind of error (a
:class:`CryoDiscoveryError` keeps its file and problem), so the job still ends with one line in
``run.err``; a worker that dies without a word becomes one line too.

This module imports nothing heavy at module level: the parent side needs only the standard
library (numpy arrays travel pickled).
"""

from __future__ import annotations

import builtins
import gc
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from ..errors import CryoDiscoveryError, JobAborted

_STARTED = time.perf_counter()
#: ``CRYODISCOVERY_MODEL_WORKER=0`` loads the model in the job's own process (a thread) instead.
WORKER_ENV = "CRYODISCOVERY_MODEL_WORKER"
#: Optional dependencies that Keras and TensorFlow's legacy tf.keras import when installed (each
#: inside ``try: import X except ImportError``) and that loading and running the ensemble never
#: uses: blocked in the worker, so they count as absent there. Measured: ~0.9 s and ~90 MB less
#: start-up (docs/benchmarks.md).
BLOCKED_IN_WORKER = ("pandas", "matplotlib", "IPython")
#: Fields of :class:`~relion_cryodiscovery.model.ensemble.EnsembleScores` sent back.
SCORE_FIELDS = ("p_d1", "p_d2", "p_d3", "d3_used", "raw", "calibrated")


def native_log() -> Any:
    """A file for TensorFlow's native start-up chatter, in the temporary directory (the job's
    staging area during a job, removed with it)."""
    return tempfile.NamedTemporaryFile(mode="w+b", prefix="tensorflow_", suffix=".log", delete=False)


def log_tail(path: str | Path, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of a native log (empty when it is gone)."""
    try:
        text = Path(path).read_bytes().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def print_log_tail(path: str | Path, what: str) -> None:
    """Copy the end of a native log into ``run.out`` (after a failure)."""
    tail = log_tail(path)
    if tail:
        print(f"--- last lines of {what}:", *tail, "---", sep="\n", flush=True)


def load_ensemble(directory: Path, gpus: str | None, threads: int | None):
    """(ensemble, strategy): the ensemble in ``directory`` on the chosen devices (TensorFlow starts here)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of run.err
    from .distribute import make_strategy, set_cpu_threads
    from .ensemble import BoostedEnsemble

    if threads:
        set_cpu_threads(threads)
    strategy = make_strategy(gpus or None)
    return BoostedEnsemble.load(directory, strategy=strategy), strategy


def loaded_versions(names: tuple[str, ...] = ("tensorflow", "keras")) -> str:
    """``"tensorflow 2.21.0, keras 3.15.1"``: the versions of those of ``names`` imported in this
    process (the runtime that scored a job, for its provenance; nothing is imported here)."""
    found = []
    for name in names:
        module = sys.modules.get(name)
        if module is not None:
            found.append(f"{name} {getattr(module, '__version__', '(version unknown)')}")
    return ", ".join(found)


def process_age() -> float | None:
    """Seconds since this process started (Linux ``/proc``; None elsewhere)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def worker_wanted() -> bool:
    """A worker process pays for a second TensorFlow import unless this process has none yet."""
    return os.environ.get(WORKER_ENV, "1") != "0" and "tensorflow" not in sys.modules


# --------------------------------------------------------------------------- errors across the pipe


def _describe(error: BaseException) -> tuple[str, str | None, str, str]:
    """(kind, path, message, traceback) of an error, to re-raise it in the parent."""
    if isinstance(error, CryoDiscoveryError):
        return "CryoDiscoveryError", error.path, error.problem, ""
    if isinstance(error, JobAborted):
        return "JobAborted", None, str(error), ""
    if isinstance(error, MemoryError):
        return "MemoryError", None, str(error), ""
    if isinstance(error, OSError):
        return "OSError", error.filename, error.strerror or str(error), ""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return type(error).__name__, None, str(error), text


def _raise(kind: str, path: str | None, message: str, trace: str) -> None:
    """Raise in the parent what the worker raised (builtin types as themselves, others as RuntimeError)."""
    if kind == "CryoDiscoveryError":
        raise CryoDiscoveryError(path, message)
    if kind == "JobAborted":
        raise JobAborted(message)
    if kind == "MemoryError":
        raise MemoryError(message)
    if kind == "OSError":
        raise OSError(0, message, path) if path else OSError(message)
    if trace:  # a bug: the worker's traceback goes to run.out, as an in-process one would
        print(f"model worker process:\n{trace}", end="", flush=True)
    builtin = getattr(builtins, kind, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        raise builtin(message)
    raise RuntimeError(f"{kind}: {message}")


# --------------------------------------------------------------------------- parent side


class ModelWorker:
    """The parent's handle on the worker process: :meth:`submit` inputs, then :meth:`result`.

    Started in the job's working directory with its environment (``KERAS_HOME``, ``TMPDIR`` of
    the job's staging directory). ``seconds`` is the worker's start-up + load time once known.
    """

    def __init__(self, directory: Path, gpus: str | None, threads: int | None):
        self.directory = Path(directory)
        self.seconds = 0.0
        self.inference_seconds = 0.0
        self.peak_rss_mb: float | None = None
        #: The worker's TensorFlow and Keras versions (``loaded_versions``), once it is ready ("" before).
        self.versions = ""
        #: When the worker was started, in seconds since this process started (None: unknown).
        self.started_after = process_age()
        self._sender: threading.Thread | None = None
        self._send_error: BaseException | None = None
        self._done = False
        config = json.dumps({"model": str(directory), "gpus": gpus or "", "threads": threads,
                             "parent": os.getpid()})
        request_read, request_write = os.pipe()
        result_read, result_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        log = native_log()
        self.log_path = log.name
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(request_read), str(result_write), config],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(request_read, result_write),
            )
        except BaseException:
            log.close()
            for fd in (request_read, request_write, result_read, result_write):
                os.close(fd)
            raise
        log.close()
        os.close(request_read)
        os.close(result_write)
        self._requests = os.fdopen(request_write, "wb")
        self._results = os.fdopen(result_read, "rb")

    def submit(self, images: Any, features: Any, batch_size: int, abort_file: Path | None = None) -> None:
        """Send the inputs (in a thread: the worker reads them only once its model is loaded)."""

        def send() -> None:
            try:
                pickle.dump(("predict", images, features, batch_size, str(abort_file) if abort_file else None),
                            self._requests, protocol=pickle.HIGHEST_PROTOCOL)
                self._requests.flush()
            except BaseException as error:  # the worker died; result() reports why
                self._send_error = error

        self._sender = threading.Thread(target=send, name="model-worker-send", daemon=True)
        self._sender.start()

    def _receive(self) -> tuple:
        try:
            return pickle.load(self._results)
        except (EOFError, pickle.UnpicklingError, OSError):
            code = self._process.wait()
            if code < 0:
                how = f"was killed by signal {signal.Signals(-code).name}"
                if -code == signal.SIGKILL:
                    how += " (out of memory?)"
            else:
                how = f"ended with exit code {code}"
            print_log_tail(self.log_path, "the model worker's output")
            raise CryoDiscoveryError(None, f"the model worker process (TensorFlow) {how}; see run.out") from None

    def result(self) -> SimpleNamespace:
        """The ensemble's scores for the submitted inputs (fields of ``EnsembleScores``); the worker's error if any."""
        while True:
            message = self._receive()
            if message[0] == "ready":
                self.seconds, self.versions = message[1], message[2]
            elif message[0] == "scores":
                self.inference_seconds = message[2]
                if self._sender is not None:
                    self._sender.join()
                self._done = True
                return SimpleNamespace(**message[1])
            elif message[0] == "error":
                self.seconds = self.seconds or message[5]
                if message[1] not in ("CryoDiscoveryError", "JobAborted"):
                    print_log_tail(self.log_path, "the model worker's output")
                _raise(*message[1:5])
            else:
                raise RuntimeError(f"unexpected message from the model worker: {message[0]!r}")

    def close(self) -> None:
        """End the worker (it exits by itself after sending scores) and record its peak memory."""
        if self._process.returncode is None:
            if not self._done:  # still loading or computing: not needed any more
                self._process.kill()
            try:  # os.wait4 rather than Popen.wait: it also gives the worker's peak memory
                _, status, usage = os.wait4(self._process.pid, 0)
                self._process.returncode = os.waitstatus_to_exitcode(status)
                self.peak_rss_mb = usage.ru_maxrss / 1024
            except ChildProcessError:  # already reaped
                pass
        for handle in (self._requests, self._results):
            try:
                handle.close()
            except OSError:
                pass
        try:
            os.unlink(self.log_path)
        except OSError:
            pass


# --------------------------------------------------------------------------- worker side


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the parent ends (Linux prctl), and watch the parent's pid as well."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the watcher below still ends us
        pass
    if os.getppid() != parent:  # the parent ended before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.2)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _send(handle: Any, message: tuple) -> None:
    pickle.dump(message, handle, protocol=pickle.HIGHEST_PROTOCOL)
    handle.flush()


def serve(request_fd: int, result_fd: int, config: dict[str, Any]) -> None:
    """The worker: load the ensemble, answer one ``predict`` request, exit."""
    _die_with_parent(int(config["parent"]))
    results = os.fdopen(result_fd, "wb")
    requests = os.fdopen(request_fd, "rb")
    try:
        for name in BLOCKED_IN_WORKER:
            sys.modules.setdefault(name, None)
        # Importing TensorFlow and Keras creates ~10^6 long-lived objects; the cyclic garbage
        # collector would scan the growing heap ~600 times on the way (~15 % of the start-up,
        # docs/benchmarks.md). Off while loading; then everything loaded is frozen out of its scans.
        gc.disable()
        ensemble, strategy = load_ensemble(Path(config["model"]), config["gpus"], config["threads"])
        gc.freeze()
        gc.enable()
        _send(results, ("ready", time.perf_counter() - _STARTED, loaded_versions()))
        request = pickle.load(requests)
        if request[0] != "predict":
            raise RuntimeError(f"unexpected request {request[0]!r}")
        _, images, features, batch_size, abort_file = request
        should_abort: Callable[[], bool] | None = None
        if abort_file:
            should_abort = Path(abort_file).exists
        start = time.perf_counter()
        scores = ensemble.predict(images, features, batch_size=batch_size, strategy=strategy,
                                  should_abort=should_abort)
        _send(results, ("scores", {name: getattr(scores, name) for name in SCORE_FIELDS},
                        time.perf_counter() - start))
    except EOFError:  # the parent closed the pipe: nothing to answer
        pass
    except BaseException as error:
        try:
            _send(results, ("error", *_describe(error), time.perf_counter() - _STARTED))
        except OSError:
            pass
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skip TensorFlow's slow interpreter shutdown


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]))
