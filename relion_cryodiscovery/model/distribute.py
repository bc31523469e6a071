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

Several machines (``TF_CONFIG``, see docs/cluster.md): every worker runs the same training code,
but only the chief's files are kept. :func:`is_chief` tells which process that is, and
:func:`worker_output_dir` gives every other worker a private temporary directory to write
(and read back) its checkpoints, as TensorFlow's multi-worker guide prescribes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

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


def _cluster_task(strategy: tf.distribute.Strategy | None) -> tuple[str | None, int | None, bool]:
    """``(task type, task index, the cluster names a chief)``; ``(None, None, False)`` on one machine.

    From ``strategy.cluster_resolver`` when a strategy is given, else from ``TF_CONFIG``.
    """
    if strategy is not None:
        resolver = getattr(strategy, "cluster_resolver", None)
        if resolver is None or resolver.task_type is None:
            return None, None, False
        return resolver.task_type, resolver.task_id, bool(resolver.cluster_spec().as_dict().get("chief"))
    raw = os.environ.get("TF_CONFIG", "")
    if not raw.strip():
        return None, None, False
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"TF_CONFIG is not valid JSON: {exc}") from exc
    task = config.get("task") or {}
    index = task.get("index")
    return task.get("type"), None if index is None else int(index), bool((config.get("cluster") or {}).get("chief"))


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster.

    TensorFlow's rule: the chief is task ``"chief"``, or worker 0 when the cluster names no chief.
    Single-machine strategies (default, Mirrored) run one process, which is the chief. Without a
    ``strategy`` the answer comes from ``TF_CONFIG``.
    """
    task_type, task_id, has_chief = _cluster_task(strategy)
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and not has_chief)


@contextlib.contextmanager
def worker_output_dir(
    out_dir: str | Path, strategy: tf.distribute.Strategy | None = None, copy_from_chief: Sequence[str] = ()
) -> Iterator[Path]:
    """The directory this process writes to: ``out_dir`` on the chief, a temporary one elsewhere.

    Every worker must run the same saving code (checkpoints are read back between stages, and
    saving may take part in collective ops), but only the chief writes to ``out_dir``. A
    non-chief worker gets a fresh directory under ``$TMPDIR`` (removed on exit) into which the
    entries ``copy_from_chief`` of ``out_dir`` are copied when they exist -- e.g. the chief's
    ``checkpoints`` for ``--resume``, which needs ``out_dir`` on a shared file system.
    """
    out = Path(out_dir)
    if is_chief(strategy):
        out.mkdir(parents=True, exist_ok=True)
        yield out
        return
    task_type, task_id, _ = _cluster_task(strategy)
    private = Path(tempfile.mkdtemp(prefix=f"cryodiscovery_{task_type}{task_id}_"))
    try:
        for name in copy_from_chief:
            source = out / name
            if source.is_dir():
                shutil.copytree(source, private / name)
            elif source.is_file():
                shutil.copy2(source, private / name)
        yield private
    finally:
        shutil.rmtree(private, ignore_errors=True)


def share_first_replica_values(variables: Sequence[tf.Variable], strategy: tf.distribute.Strategy) -> None:
    """Give every worker replica 0's (the chief's) values of the floating-point ``variables``.

    Keras updates BatchNormalization's moving statistics from each replica's own part of the
    batch. In one process the replicas still end up with equal values, but the workers of a
    cluster each keep their own (measured: two workers' d1 differed in every moving mean and
    variance, and their scores by 2e-4). Copying replica 0's values to all workers after every
    epoch makes them hold the same model -- the one ``MirroredStrategy`` with as many replicas
    trains, to the bit in tests/test_multiworker.py -- so their checkpoints, validation scores
    and stage sets agree. A no-op on one machine.
    """
    if _cluster_task(strategy)[0] is None:
        return
    chosen = [v for v in variables if tf.as_dtype(v.dtype).is_floating]
    if not chosen:
        return

    def first_replica_values() -> list[tf.Tensor]:
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        local = [tf.convert_to_tensor(v) for v in chosen]
        return context.all_reduce("SUM", [tf.where(first, x, tf.zeros_like(x)) for x in local])

    shared = tf.function(lambda: strategy.run(first_replica_values), autograph=False)()
    for variable, value in zip(chosen, shared):
        variable.assign(strategy.experimental_local_results(value)[0])


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


class _KerasReduce:
    """Mixin: a ``reduce`` that takes the two calls Keras 3 makes which the TF strategies refuse.

    1. ``fit``/``evaluate`` first reduce the whole first input batch, a nest
       ``({"image", "features"}, y, w)``, only to learn its shapes for building the model
       symbolically. When the batch does not split evenly over the replicas (a validation set
       smaller than the global batch, say 15 views on 2 replicas), ``MirroredStrategy`` fails with
       "Inputs to operation AddN ... must have the same size and shape" and the multi-worker
       strategy with "Shape mismatch in the collective instance"; for dict inputs the latter
       cannot reduce a nest at all (keras-team/keras#20329). A nest is therefore answered with
       this process's first local replica's values: right shapes and dtypes, no communication.
    2. With several workers the scalar loss/metric logs are reduced with ``axis=0``, which a
       scalar does not have ("Invalid reduction dimension 0 for input with 0 dimensions"); a
       scalar is reduced over replicas only.

    Any other value is reduced as the strategy does. Seen with Keras 3.15 and TensorFlow 2.21.
    """

    def reduce(self, reduce_op, value, axis):  # type: ignore[no-untyped-def]
        if tf.nest.is_nested(value):
            return tf.nest.map_structure(lambda leaf: self.experimental_local_results(leaf)[0], value)
        if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
            axis = None
        return super().reduce(reduce_op, value, axis)  # type: ignore[misc]


class KerasMirroredStrategy(_KerasReduce, tf.distribute.MirroredStrategy):
    """``MirroredStrategy`` (one process, several devices) that Keras 3 can train with."""


class KerasMultiWorkerStrategy(_KerasReduce, tf.distribute.MultiWorkerMirroredStrategy):
    """``MultiWorkerMirroredStrategy`` (one process per machine, ``TF_CONFIG``) that Keras 3 can train with."""


#: Seconds a worker may go without a heartbeat before the cluster counts it as failed. TensorFlow's default (10 s)
#: failed two healthy workers sharing a loaded 2-core machine once in CI; a worker that has died is still detected.
HEARTBEAT_TIMEOUT_S = 120


def configure_coordination(heartbeat_timeout_s: float = HEARTBEAT_TIMEOUT_S) -> bool:
    """Configure the multi-worker coordination service as ``MultiWorkerMirroredStrategy`` would (its leader and
    jobs from ``TF_CONFIG``), with a longer heartbeat timeout; the strategy keeps a configuration made before it.
    Returns False (TensorFlow's defaults then apply) when the service is already configured or TensorFlow's
    internal API differs."""
    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.distribute import multi_worker_util
        from tensorflow.python.eager import context

        if context.context().coordination_service is not None:
            return False
        spec = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
        jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=spec.num_tasks(job))
                for job in ("chief", "worker") if job in spec.jobs]
        context.context().configure_coordination_service(
            service_type="standalone", service_leader=multi_worker_util.coordination_leader(spec),
            heartbeat_timeout_in_ms=int(heartbeat_timeout_s * 1000), coordinated_jobs=jobs)
        return True
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        log.warning("coordination service left at TensorFlow's defaults (%s)", error)
        return False


def make_strategy(gpus: str | None = None) -> tf.distribute.Strategy:
    """The strategy for ``gpus``: None = all visible GPUs, "0,1" = those GPUs, "cpu", or "cpu:N"."""
    choice = (gpus or "").strip().lower()
    if tf_config_workers() > 1:
        log.info("TF_CONFIG names %d workers: MultiWorkerMirroredStrategy", tf_config_workers())
        if choice:
            log.warning("--gpus %s is not used with TF_CONFIG: each worker uses the GPUs it can see", gpus)
        configure_coordination()
        return KerasMultiWorkerStrategy()
    if choice == "cpu":
        _hide_gpus()
        return tf.distribute.get_strategy()
    if choice.startswith("cpu:"):
        devices = configure_cpu_replicas(int(choice.split(":", 1)[1]))
        return KerasMirroredStrategy(devices)
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
    return KerasMirroredStrategy(devices)


def global_batch_size(per_replica: int, strategy: tf.distribute.Strategy) -> int:
    """Per-replica batch x number of replicas."""
    return int(per_replica) * int(strategy.num_replicas_in_sync)
