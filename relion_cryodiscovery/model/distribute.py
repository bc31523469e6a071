"""Choose the tf.distribute strategy for training and inference.

=====================================  ===============================================
situation                              strategy
=====================================  ===============================================
``TF_CONFIG`` names > 1 worker         ``MultiWorkerMirroredStrategy``
``gpus="cpu"``                         default strategy with GPUs hidden
``gpus="cpu:N"``                       ``MirroredStrategy`` over N logical CPU devices
GPUs visible (``gpus=None``/``"0,1"``)  ``MirroredStrategy`` over all / the listed GPUs
no GPU                                 default strategy (one replica)
=====================================  ===============================================

Hiding GPUs, thread counts and logical CPU devices can only be set before TensorFlow
initialises its devices, so call :func:`set_cpu_threads` and :func:`make_strategy` early.
The global batch is ``per_replica_batch * strategy.num_replicas_in_sync`` (:func:`global_batch_size`).
"""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

log = logging.getLogger(__name__)


def tf_config_workers() -> int:
    """Number of workers named in the ``TF_CONFIG`` environment variable (0 when unset)."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON: {exc}") from exc
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def set_cpu_threads(n: int) -> None:
    """Limit TensorFlow to ``n`` intra-op threads (RELION's ``--j``); warn if TF already runs."""
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError as exc:
        log.warning("cannot set TensorFlow threads to %d (TensorFlow already initialised): %s", n, exc)


def configure_cpu_replicas(n: int) -> list[str]:
    """Split the CPU into ``n`` logical devices (before TF initialises); return their names."""
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if not current or len(current) != n:
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
            )
        except RuntimeError as exc:
            raise RuntimeError(
                f"cannot create {n} logical CPU devices: TensorFlow is already initialised"
            ) from exc
    return [f"/cpu:{i}" for i in range(n)]


def _hide_gpus() -> None:
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError as exc:
        if tf.config.list_logical_devices("GPU"):
            raise RuntimeError("cannot force CPU: TensorFlow already initialised its GPUs") from exc


def make_strategy(gpus: str | None = None) -> tf.distribute.Strategy:
    """The strategy for ``gpus``: None = all visible GPUs, "0,1" = those GPUs, "cpu", or "cpu:N"."""
    if tf_config_workers() > 1:
        log.info("TF_CONFIG names %d workers: MultiWorkerMirroredStrategy", tf_config_workers())
        return tf.distribute.MultiWorkerMirroredStrategy()
    choice = (gpus or "").strip().lower()
    if choice == "cpu":
        _hide_gpus()
        return tf.distribute.get_strategy()
    if choice.startswith("cpu:"):
        devices = configure_cpu_replicas(int(choice.split(":", 1)[1]))
        return tf.distribute.MirroredStrategy(devices)
    physical = tf.config.list_physical_devices("GPU")
    if not physical:
        if choice:
            log.warning("GPUs %s requested but none is visible: running on the CPU", choice)
        return tf.distribute.get_strategy()
    if choice:
        indices = [int(i) for i in choice.split(",") if i.strip()]
        missing = [i for i in indices if i >= len(physical)]
        if missing:
            raise ValueError(f"GPU(s) {missing} requested but only {len(physical)} visible")
        devices = [f"/gpu:{i}" for i in indices]
    else:
        devices = [f"/gpu:{i}" for i in range(len(physical))]
    return tf.distribute.MirroredStrategy(devices)


def global_batch_size(per_replica: int, strategy: tf.distribute.Strategy) -> int:
    """Per-replica batch x number of replicas."""
    return int(per_replica) * int(strategy.num_replicas_in_sync)
