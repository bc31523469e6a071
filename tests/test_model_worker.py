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
from relion_cryodiscovery.model.worker import SCORE_FIELDS, ModelWorker, load_ensemble

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
    assert worker.seconds > 0 and worker.inference_seconds > 0
    assert worker.peak_rss_mb is not None and worker.peak_rss_mb > 100


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
    deadline = time.monotonic() + 5
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker_pid), "the model worker outlived its killed parent"


def test_the_select_command_imports_nothing_heavy_before_the_worker_starts() -> None:
    code = ("import sys, relion_cryodiscovery.cli.select, relion_external.cryodiscovery_select; "
            "print(sorted(m for m in ('pandas', 'starfile', 'scipy', 'skimage', 'matplotlib', 'mrcfile', "
            "'tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"
