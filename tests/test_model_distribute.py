"""Strategy choice, and a real 2-replica MirroredStrategy run on two logical CPU devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tensorflow as tf

from relion_cryodiscovery.model.distribute import global_batch_size, make_strategy, tf_config_workers


def test_cpu_only_machine_gets_one_replica(monkeypatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("machine has GPUs")
    strategy = make_strategy(None)
    assert strategy.num_replicas_in_sync == 1
    assert global_batch_size(32, strategy) == 32
    assert make_strategy("cpu").num_replicas_in_sync == 1


def test_tf_config_worker_count(monkeypatch) -> None:
    config = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert tf_config_workers() == 2
    monkeypatch.setenv("TF_CONFIG", "")
    assert tf_config_workers() == 0


TWO_REPLICAS = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from relion_cryodiscovery.model.distribute import make_strategy
    strategy = make_strategy("cpu:2")  # before anything initialises TensorFlow
    from cryodiscovery_dev.synthetic import synthetic_arrays, tiny_config
    from relion_cryodiscovery.training.boosting import train_boosted_ensemble
    train, val = synthetic_arrays(40, views=2, seed=1), synthetic_arrays(16, views=2, seed=2)
    ensemble = train_boosted_ensemble(train, val, tiny_config(epochs=1), strategy, sys.argv[1],
                                      log=lambda m: None)
    distributed = ensemble.predict(val.images, val.features, batch_size=10, strategy=strategy)
    local = ensemble.predict(val.images, val.features, batch_size=10)
    state = json.load(open(sys.argv[1] + "/checkpoints/d1/state.json"))
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "max_diff": float(np.abs(distributed.raw - local.raw).max()),
                      "d3_same": bool((distributed.d3_used == local.d3_used).all()),
                      "epochs": state["epoch"]}))
    """
)


def test_two_replica_mirrored_strategy_on_logical_cpus(tmp_path) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", TWO_REPLICAS, str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["epochs"] == 1 and result["d3_same"]
    assert result["max_diff"] < 1e-5
    assert (tmp_path / "out" / "model_card.json").exists()
