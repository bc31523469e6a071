"""The model worker process: same scores as in-process, errors come back, it dies with its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.model.card import ModelCard
from relion_cryodiscovery.model.runtime import RUNTIME_ENV
from relion_cryodiscovery.model.worker import SCORE_FIELDS, WORKER_ENV as CRYO_ENV, ModelWorker, load_ensemble

REPO = Path(__file__).resolve().parents[1]


def _inputs(model: Path, k: int = 9) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    n_features = ModelCard.load(model).n_features
    return rng.normal(size=(k, 1, 64, 64)).astype(np.float32), rng.normal(size=(k, n_features)).astype(np.float32)


def test_worker_scores_are_the_in_process_scores_bit_for_bit(model: Path) -> None:
    images, features = _inputs(model)
    worker = ModelWorker(model, "", 1)
    try:
        worker.submit(images, features, batch_size=4)
        remote = worker.result()
    finally:
        worker.close()
    ensemble, strategy = load_ensemble(model, "", 1)
    local = ensemble.predict(images, features, batch_size=4, strategy=strategy)
    for name in SCORE_FIELDS:
        np.testing.assert_array_equal(getattr(remote, name), getattr(local, name), err_msg=name)
    # the worker reported its load and inference times, then ended by itself once it had sent the scores
    # (close() did not have to kill it) and was reaped with its resource usage (how much memory it took is
    # a benchmark figure, benchmarks/example_job.py, not asserted here)
    assert worker.seconds > 0 and worker.inference_seconds > 0
    assert worker._process.returncode == 0
    assert worker.peak_rss_mb is not None and worker.peak_rss_mb > 0


def test_an_error_in_the_worker_is_raised_in_the_parent_with_its_file(model: Path) -> None:
    (model / "d2.keras").write_bytes(b"\x89HDF\r\n not a zip")
    images, features = _inputs(model)
    worker = ModelWorker(model, "", 1)
    try:
        worker.submit(images, features, batch_size=4)
        with pytest.raises(CryoDiscoveryError, match="d2.keras.*not a Keras"):
            worker.result()
    finally:
        worker.close()


def test_a_bug_in_the_worker_keeps_its_type_and_its_traceback_goes_to_stdout(model: Path, capfd) -> None:
    images, features = _inputs(model)
    worker = ModelWorker(model, "", 1)
    try:
        worker.submit(images, features[:, :3], batch_size=4)  # wrong feature width: ValueError in predict
        with pytest.raises(ValueError, match="features"):
            worker.result()
    finally:
        worker.close()
    out, err = capfd.readouterr()
    assert "model worker process:" in out and "Traceback" in out and "Traceback" not in err


def test_a_worker_killed_from_outside_is_one_clear_error(model: Path) -> None:
    worker = ModelWorker(model, "", 1)
    try:
        os.kill(worker._process.pid, signal.SIGKILL)
        with pytest.raises(CryoDiscoveryError, match="model worker process .*SIGKILL"):
            worker.result()
    finally:
        worker.close()


PARENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from relion_cryodiscovery.model.worker import ModelWorker
    worker = ModelWorker(Path(sys.argv[1]), "", 1)
    print(worker._process.pid, flush=True)
    time.sleep(120)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] if Path(f"/proc/{pid}").exists() else "X"
    return state not in ("Z", "X")


def test_the_worker_dies_when_its_parent_is_killed(model: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(model)], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    worker_pid = int(parent.stdout.readline())
    time.sleep(0.5)  # inside TensorFlow's import
    assert _alive(worker_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 60  # a bound on a hung test, not a speed requirement
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker_pid), "the model worker outlived its killed parent"


def test_the_select_command_imports_nothing_heavy_before_the_worker_starts() -> None:
    code = ("import sys, relion_cryodiscovery.cli.main, relion_cryodiscovery.cli.select, "
            "relion_external.cryodiscovery_select; "
            "print(sorted(m for m in ('pandas', 'starfile', 'scipy', 'skimage', 'matplotlib', 'mrcfile', "
            "'tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"


def test_the_whole_job_never_imports_matplotlib_or_tensorflow_in_its_own_process(
        project: Path, session_tiny_model: Path) -> None:
    """TensorFlow belongs to the model worker and the montage is drawn with Pillow (docs/benchmarks.md)."""
    code = ("import sys; from relion_cryodiscovery.cli.main import run_command; "
            "code = run_command('select', ['--o', 'External/job006/', '--in_parts', 'Class2D/job001/run_it025_data.star', "
            f"'--model', {str(session_tiny_model)!r}, '--min_classes', '2', '--j', '1']); "
            "print(code, sorted(m for m in ('matplotlib', 'tensorflow', 'keras') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != CRYO_ENV}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr
    assert (project / "External/job006/cryodiscovery_montage.png").is_file()


SITECUSTOMIZE = textwrap.dedent('''
    """Audit hook for every Python process of the job (the External executable and its model worker)."""
    import os, sys

    out = os.path.realpath(os.environ["GUARD_OUT"])
    log = os.open(os.environ["GUARD_LOG"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    allowed = set()
    parent = out
    while parent != os.path.dirname(parent):  # creating --o may create its parents
        allowed.add(parent)
        parent = os.path.dirname(parent)
    os.write(log, f"START\\t{os.getpid()}\\t{' '.join(sys.argv)}\\n".encode())
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def inside(path, dir_fd=None):
        if isinstance(path, int):
            return True
        path = os.fsdecode(path)
        if dir_fd is not None and dir_fd >= 0 and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        real = os.path.realpath(path)
        return real == out or real.startswith(out + os.sep) or real in ("/dev/null", "/dev/tty")

    def hook(event, args):
        bad = None
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"):
            bad = f"{event} {args[1:]!r}"
        elif event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and path is not None and not inside(path):
                bad = f"write {path}"
        elif event in ("os.remove", "os.rmdir") and not inside(args[0], args[1]):
            bad = f"{event} {args[0]}"
        elif event == "os.mkdir" and not inside(args[0], args[2]) and os.path.realpath(args[0]) not in allowed:
            bad = f"{event} {args[0]}"
        elif event == "os.rename" and not inside(args[1], args[3]):
            bad = f"{event} {args[1]}"
        elif event in ("shutil.copyfile", "shutil.move") and not inside(args[1]):
            bad = f"{event} {args[1]}"
        if bad:
            os.write(log, f"VIOLATION\\t{os.getpid()}\\t{bad}\\n".encode())

    sys.addaudithook(hook)
''')


def test_the_worker_writes_nothing_outside_o_either(project: Path, session_tiny_model: Path, tmp_path: Path) -> None:
    """tests/test_safety.py's guard covers the job's own process; this one every process of the job."""
    hooks, home, tmp = tmp_path / "hooks", tmp_path / "home", tmp_path / "tmpdir"
    for directory in (hooks, home, tmp):
        directory.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "audit.tsv"
    out = "External/job005/"
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_HOME", "MPLCONFIGDIR", CRYO_ENV)}
    env.update({RUNTIME_ENV: "tensorflow"})  # the worker runs only on the TensorFlow path
    env.update(HOME=str(home), TMPDIR=str(tmp), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"), GUARD_OUT=str(project / out), GUARD_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(hooks), str(REPO)]))
    done = subprocess.run([sys.executable, str(REPO / "relion_external/cryodiscovery_select.py"), "--o", out,
                           "--in_parts", "Class2D/job001/run_it025_data.star", "--model", str(session_tiny_model),
                           "--min_classes", "2", "--j", "1"], cwd=project, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in log.read_text().splitlines()]
    started = [line[2] for line in lines if line[0] == "START"]
    assert any(argv.startswith("-m ") and '"parent"' in argv for argv in started), started  # the worker ran hooked
    assert [line for line in lines if line[0] == "VIOLATION"] == []
    assert list(home.rglob("*")) == [] and list(tmp.rglob("*")) == []
