"""Training on several machines: MultiWorkerMirroredStrategy with two real worker processes.

Two Python processes on this machine form a TF_CONFIG cluster on loopback ports chosen at run
time (the way docs/cluster.md runs one process per node). They must train one model together
(2 replicas in sync, the same steps, the same weights) and only the chief may write the model.
To show that the non-chief writes nothing, worker 1 is given an output directory of its own
(on a cluster both get the same path): it must not exist afterwards, and worker 1's temporary
directory (its ``TMPDIR``) must be empty again.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from relion_cryodiscovery.model.distribute import is_chief, worker_output_dir

REPO = Path(__file__).resolve().parents[1]
#: Seconds a worker may take: generous (the CPU may be shared); a hang ends the test, not CI.
WORKER_TIMEOUT = 480


# --- which process is the chief, and where each one writes -------------------------------------


def _tf_config(cluster: dict, task_type: str, index: int) -> str:
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_is_chief_follows_tensorflow_rule(monkeypatch) -> None:
    workers = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", _tf_config(workers, "worker", 0))
    assert is_chief()
    monkeypatch.setenv("TF_CONFIG", _tf_config(workers, "worker", 1))
    assert not is_chief()
    with_chief = {"chief": ["127.0.0.1:3"], **workers}
    monkeypatch.setenv("TF_CONFIG", _tf_config(with_chief, "chief", 0))
    assert is_chief()
    monkeypatch.setenv("TF_CONFIG", _tf_config(with_chief, "worker", 0))
    assert not is_chief()  # worker 0 is not the chief when the cluster names one
    monkeypatch.delenv("TF_CONFIG")
    assert is_chief()
    # From a strategy's cluster resolver (TF's own class), as the training code asks.
    spec = tf.train.ClusterSpec(workers)
    for task_id, expected in ((0, True), (1, False)):
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(spec, task_type="worker", task_id=task_id)
        assert is_chief(SimpleNamespace(cluster_resolver=resolver)) is expected
    assert is_chief(tf.distribute.get_strategy())


def test_worker_output_dir_keeps_non_chief_out(tmp_path, monkeypatch) -> None:
    out = tmp_path / "model"
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with worker_output_dir(out) as chief_dir:
        assert chief_dir == out and out.is_dir()
        (chief_dir / "checkpoints" / "d1").mkdir(parents=True)
        (chief_dir / "checkpoints" / "d1" / "state.json").write_text('{"epoch": 3}')

    private_root = tmp_path / "node_tmp"
    private_root.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(private_root))
    monkeypatch.setenv("TF_CONFIG", _tf_config({"worker": ["a:1", "b:2"]}, "worker", 1))
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(RuntimeError, match="boom"):
        with worker_output_dir(out, copy_from_chief=["checkpoints", "absent"]) as private:
            assert private.parent == private_root and private.name.startswith("cryodiscovery_worker1_")
            # --resume: the chief's checkpoints are there to read (a copy), nothing else.
            assert json.loads((private / "checkpoints" / "d1" / "state.json").read_text()) == {"epoch": 3}
            assert not (private / "absent").exists()
            (private / "checkpoints" / "d1" / "state.json").write_text('{"epoch": 4}')
            (private / "d1.keras").write_text("x")
            raise RuntimeError("boom")
    assert list(private_root.iterdir()) == []  # removed, even after an error
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert json.loads((out / "checkpoints" / "d1" / "state.json").read_text()) == {"epoch": 3}


# --- two real workers ---------------------------------------------------------------------------


WORKER = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np
    from relion_cryodiscovery.model.distribute import is_chief, make_strategy, set_cpu_threads
    mode, out = sys.argv[1], sys.argv[2]
    set_cpu_threads(1)
    messages = []
    if mode == "cli":  # the train command itself; it makes its strategy first
        from relion_cryodiscovery.cli.main import main
        code = main(["train", *sys.argv[3:], "--o", out])
        print(json.dumps({"code": code, "chief": is_chief()}))
        sys.exit(0)
    strategy = make_strategy(None if mode == "multiworker" else mode)  # "cpu:2": one-process reference
    from cryodiscovery_dev.synthetic import synthetic_arrays, tiny_config
    from relion_cryodiscovery.training.boosting import train_boosted_ensemble
    train, val = synthetic_arrays(41, seed=1), synthetic_arrays(15, seed=2)
    ensemble = train_boosted_ensemble(train, val, tiny_config(epochs=1), strategy, out, log=messages.append)
    scores = ensemble.predict(val.images, val.features, batch_size=10, strategy=strategy)
    resolver = getattr(strategy, "cluster_resolver", None)
    print(json.dumps({
        "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
        "task": [getattr(resolver, "task_type", None), getattr(resolver, "task_id", None)],
        "chief": is_chief(strategy),
        "heartbeat_ms": getattr(__import__("tensorflow.python.eager.context", fromlist=["context"]).context()
                                .coordination_service, "heartbeat_timeout_in_ms", None),
        "steps": {m: int(getattr(ensemble, m).optimizer.iterations.numpy()) for m in ("d1", "d2", "d3")},
        "weights": hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for m in ("d1", "d2", "d3")
                                           for w in getattr(ensemble, m).get_weights())).hexdigest(),
        "raw": scores.raw.tolist(), "d3_used": scores.d3_used.tolist(),
        "threshold": ensemble.threshold, "messages": messages,
    }))
    """
)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _env(tmp: Path, tf_config: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "TMPDIR": str(tmp)}
    # gRPC honours proxy variables, even for loopback addresses.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "grpc_proxy", "all_proxy", "ALL_PROXY"):
        env.pop(name, None)
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = tf_config
    return env


def _last_json(stdout: str) -> dict:
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def _start_cluster(args: list[list[str]], tmp_path: Path, attempt: int):
    """Start one worker per argument list, with one TF_CONFIG cluster on fresh loopback ports."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(len(args))]}
    procs, logs, temps = [], [], []
    for index, extra in enumerate(args):
        temp = tmp_path / f"tmp_worker{index}"
        temp.mkdir(exist_ok=True)
        out, err = (tmp_path / f"worker{index}.try{attempt}.{name}" for name in ("out", "err"))
        with open(out, "w") as stdout, open(err, "w") as stderr:  # files, not pipes: no full-pipe stall
            procs.append(subprocess.Popen(
                [sys.executable, "-c", WORKER, *extra], env=_env(temp, _tf_config(cluster, "worker", index)),
                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, cwd=tmp_path,
            ))
        logs.append((out, err))
        temps.append(temp)
    return cluster, procs, logs, temps


def _run_cluster(args: list[list[str]], tmp_path: Path) -> tuple[list[dict], list[Path]]:
    """Run the workers to the end; return what each printed (JSON) and each one's TMPDIR.

    Fails with every worker's stderr if one fails or the cluster does not finish within
    :data:`WORKER_TIMEOUT`. A port taken by another process between choosing and binding it
    gets one retry on new ports.
    """
    for attempt in (1, 2):
        cluster, procs, logs, temps = _start_cluster(args, tmp_path, attempt)
        deadline = time.monotonic() + WORKER_TIMEOUT
        try:
            for proc in procs:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        stderr = [err.read_text(errors="replace") for _, err in logs]
        report = "\n".join(f"--- worker {i} (exit {p.returncode}) stderr ---\n{text[-3000:]}"
                           for i, (p, text) in enumerate(zip(procs, stderr)))
        if timed_out:
            pytest.fail(f"workers did not finish within {WORKER_TIMEOUT} s (cluster {cluster})\n{report}")
        failed = [i for i, p in enumerate(procs) if p.returncode != 0]
        if not failed:
            break
        if attempt == 1 and any("address already in use" in text.lower() for text in stderr):
            continue
        pytest.fail(f"worker(s) {failed} failed (cluster {cluster})\n{report}")
    stdout = [out.read_text(errors="replace") for out, _ in logs]
    try:
        return [_last_json(text) for text in stdout], temps
    except (ValueError, IndexError) as exc:
        pytest.fail(f"a worker printed no result ({exc}):\n" + "\n".join(text[-2000:] for text in stdout))


def test_two_workers_train_one_ensemble_and_only_the_chief_writes_it(tmp_path) -> None:
    chief_out, other_out = tmp_path / "model", tmp_path / "model_given_to_worker1"
    (w0, w1), temps = _run_cluster([["multiworker", str(chief_out)], ["multiworker", str(other_out)]], tmp_path)

    # Both workers took part: one cluster of 2 replicas, each its own task, the same steps.
    assert w0["strategy"] == w1["strategy"] == "KerasMultiWorkerStrategy"
    assert w0["replicas"] == w1["replicas"] == 2
    assert (w0["task"], w1["task"]) == (["worker", 0], ["worker", 1])
    assert (w0["chief"], w1["chief"]) == (True, False)
    # a busy worker is not taken for a dead one after TensorFlow's default 10 s without a heartbeat
    from relion_cryodiscovery.model.distribute import HEARTBEAT_TIMEOUT_S
    assert w0["heartbeat_ms"] == w1["heartbeat_ms"] == HEARTBEAT_TIMEOUT_S * 1000
    sets = json.loads((chief_out / "stage_sets.json").read_text())
    global_batch = 16 * 2  # tiny_config's per-replica batch x 2 replicas; 1 epoch, 1 view per class
    expected = {m: math.ceil(len(sets[m]) / global_batch) for m in ("d1", "d2", "d3")}
    assert w0["steps"] == w1["steps"] == expected
    # ... and hold the same model: gradients are all-reduced and BatchNorm statistics shared, so
    # the weights agree bit for bit (the predictions are gathered, so they agree anyway).
    assert w0["weights"] == w1["weights"]
    assert w0["raw"] == w1["raw"]
    assert w0["d3_used"] == w1["d3_used"] and w0["threshold"] == w1["threshold"]

    # Only the chief wrote: worker 1's output directory was never created and its private
    # checkpoint directory (under its TMPDIR) is gone.
    assert not other_out.exists(), sorted(other_out.rglob("*"))
    assert list(temps[1].iterdir()) == []
    written = [m for m in w1["messages"] if m.startswith("ensemble written to")]
    assert written and str(temps[1]) in written[0] and "non-chief" in written[0]
    assert {p.name for p in chief_out.iterdir()} >= {"d1.keras", "d2.keras", "d3.keras", "model_card.json",
                                                     "stage_sets.json", "checkpoints"}
    for stage in ("d1", "d2", "d3"):
        assert json.loads((chief_out / "checkpoints" / stage / "state.json").read_text())["epoch"] == 1

    # The chief's model is an ordinary model directory: our loader reads it and it predicts
    # what the chief predicted.
    from cryodiscovery_dev.synthetic import synthetic_arrays
    from relion_cryodiscovery.model.ensemble import BoostedEnsemble

    val = synthetic_arrays(15, seed=2)
    loaded = BoostedEnsemble.load(chief_out)
    scores = loaded.predict(val.images, val.features, batch_size=10)
    assert loaded.card.extra["replicas"] == 2
    assert np.abs(scores.raw - np.asarray(w0["raw"], np.float32)).max() < 1e-5
    assert scores.d3_used.tolist() == w0["d3_used"]

    # Two workers of one replica each train what one process with two replicas trains (same
    # global batch, same split of each batch, replica 0's BatchNorm statistics): measured
    # identical here (TF 2.21, Keras 3.15); workers whose BatchNorm statistics were not shared
    # differed by 2e-4, so 1e-5 leaves room only for another summation order.
    reference = subprocess.run([sys.executable, "-c", WORKER, "cpu:2", str(tmp_path / "reference")],
                               capture_output=True, text=True, env=_env(tmp_path, None), timeout=WORKER_TIMEOUT)
    assert reference.returncode == 0, reference.stderr[-3000:]
    mirrored = _last_json(reference.stdout)
    assert mirrored["strategy"] == "KerasMirroredStrategy" and mirrored["replicas"] == 2
    assert mirrored["steps"] == w0["steps"]
    difference = float(np.abs(np.subtract(mirrored["raw"], w0["raw"])).max())
    assert difference < 1e-5, f"2 workers vs 2 replicas: raw scores differ by up to {difference:.2e}"


def test_train_command_on_two_workers(session_corpus: Path, tmp_path) -> None:
    """``relion_cryodiscovery train`` itself under TF_CONFIG: one model, written by the chief alone."""
    chief_out, other_out = tmp_path / "model", tmp_path / "model_given_to_worker1"
    data = [arg for p in sorted(session_corpus.glob("sim*")) for arg in ("--project", str(p))]
    # One job each for training, validation and test, so the held-out test scoring (collective
    # inference, then the card rewritten by the chief) runs too. Global batch 64 > the validation job's
    # 20-60 classes: the evaluation batch splits unevenly over the workers.
    data += ["--epochs", "1", "--val-fraction", "0.33", "--test-fraction", "0.33", "--quiet", "--batch-size", "32"]
    (w0, w1), temps = _run_cluster([["cli", str(chief_out), *data], ["cli", str(other_out), *data]], tmp_path)
    assert (w0, w1) == ({"code": 0, "chief": True}, {"code": 0, "chief": False})
    assert not other_out.exists(), sorted(other_out.rglob("*"))
    assert list(temps[1].iterdir()) == []
    splits = json.loads((chief_out / "splits.json").read_text())
    assert [len(splits[k]) for k in ("train", "validation", "test")] == [1, 1, 1]

    from relion_cryodiscovery.model.ensemble import BoostedEnsemble
    from relion_cryodiscovery.training.corpus import discover_project, read_labelled_job
    from relion_cryodiscovery.data.preprocess import PreprocessConfig

    loaded = BoostedEnsemble.load(chief_out)
    assert loaded.card.extra["replicas"] == 2 and loaded.card.extra["test_jobs"] == splits["test"]
    assert 0.0 <= loaded.card.extra["test_metrics"]["roc_auc"] <= 1.0
    job = read_labelled_job(discover_project(session_corpus / "sim0000")[0],
                            PreprocessConfig.from_dict(loaded.card.preprocessing))
    usable = job.inputs.usable
    scores = loaded.predict(job.inputs.images[usable], job.inputs.features[usable])
    assert len(scores.calibrated) == usable.sum() and np.isfinite(scores.calibrated).all()
