"""Fit loop for one ensemble member: tf.data input, augmentation, checkpoints, resume, early stopping.

Each class contributes its V views as V training samples (label and feature row repeated).
Per epoch ``e`` (0-based) of stage ``s`` everything random is derived from ``(seed, s, e)``:
the sample order (a seeded permutation), the augmentation and metadata withholding
(``numpy.random.default_rng``), and Keras' dropout (``keras.utils.set_random_seed``); op
determinism is enabled, so the same data give the same weights on CPU.

Checkpoints (``checkpoint_dir`` = ``out_dir/checkpoints/<stage>``)::

    epoch_NNN.keras   model + optimizer after epoch NNN (1-based; the last ``keep_checkpoints`` kept)
    best.keras        lowest validation loss so far (the stage's result once done)
    state.json        FitState: last epoch, best epoch/loss, patience counter, history, done

With ``resume=True`` a finished stage is reloaded from ``best.keras`` and an unfinished one
continues after the last completed epoch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..data.augment import AugmentConfig, augment_images
from ..data.features import FEATURE_NAMES, shift_particle_counts, withhold_metadata
from ..errors import CryoDiscoveryError, JobAborted
from ..model.distribute import global_batch_size, share_first_replica_values
from ..model.ensemble import load_member

Log = Callable[[str], None]
_logger = logging.getLogger(__name__)


@dataclass
class TrainingArrays:
    """Labelled classes for training or validation (class level; views stay together)."""

    #: (N, V, S, S) float32 normalised views.
    images: np.ndarray
    #: (N, F) float32 feature rows (values | missing flags).
    features: np.ndarray
    #: (N,) 0/1, 1 = good class (or 0..n_labels-1 for a multi-class head, e.g. the reason model).
    labels: np.ndarray
    #: (N,) str, the job each class comes from (splits and summaries are by job).
    groups: np.ndarray
    #: (N,) optional per-class sample weights.
    weights: np.ndarray | None = None
    #: Number of distinct labels: 2 for good/junk.
    n_labels: int = 2

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images, dtype=np.float32)
        self.features = np.asarray(self.features, dtype=np.float32)
        self.labels = np.asarray(self.labels).astype(np.float32)
        self.groups = np.asarray(self.groups).astype(str)
        n = len(self.images)
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, V, S, S), got {self.images.shape}")
        if self.features.ndim != 2:
            raise ValueError(f"features must be (N, F), got {self.features.shape}")
        if not (len(self.features) == len(self.labels) == len(self.groups) == n):
            raise ValueError("images, features, labels and groups must have the same length")
        if not np.isin(self.labels, np.arange(self.n_labels, dtype=np.float32)).all():
            raise ValueError("labels must be 0 or 1" if self.n_labels == 2 else f"labels must be 0..{self.n_labels - 1}")
        if self.weights is not None:
            self.weights = np.asarray(self.weights, dtype=np.float32)
            if self.weights.shape != (n,):
                raise ValueError(f"weights must be ({n},), got {self.weights.shape}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_views(self) -> int:
        return int(self.images.shape[1])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    def subset(self, indices: np.ndarray) -> "TrainingArrays":
        """The classes at ``indices`` (in that order)."""
        idx = np.asarray(indices, dtype=np.int64)
        weights = None if self.weights is None else self.weights[idx]
        return TrainingArrays(self.images[idx], self.features[idx], self.labels[idx], self.groups[idx],
                              weights, self.n_labels)

    def sample_weights(self) -> np.ndarray:
        return np.ones(len(self), np.float32) if self.weights is None else self.weights


@dataclass(frozen=True)
class TrainConfig:
    """How one member is fitted."""

    epochs: int = 40
    #: Per-replica batch (view images); the global batch is this x replicas.
    batch_size: int = 64
    learning_rate: float = 1e-3
    #: Early stopping: stop after this many epochs without a val-loss improvement > min_delta.
    patience: int = 6
    min_delta: float = 1e-4
    seed: int = 0
    augment: AugmentConfig = AugmentConfig()
    #: Metadata withholding: whole metadata missing with p_all, each group/feature with p_each.
    withhold_all: float = 0.3
    withhold_each: float = 0.1
    #: Particle-count scale augmentation: log10_particles += U(0, count_shift) with p count_shift_p (0 = off).
    count_shift: float = 0.0
    count_shift_p: float = 0.5
    #: Keras progress bar (0 silent, 1 bar, 2 one line per epoch).
    verbose: int = 1
    #: Epoch checkpoints kept on disk (older ones are deleted).
    keep_checkpoints: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitState:
    """Progress of one stage, written to ``state.json`` after every epoch."""

    stage: str
    #: Last completed epoch, 1-based (0 = none).
    epoch: int = 0
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    wait: int = 0
    done: bool = False
    n_train: int = 0
    #: SHA-256 of the stage's training class indices / labels, to refuse resuming on other data.
    data_digest: str = ""
    history: list[dict] = field(default_factory=list)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        values = asdict(self)
        values["best_val_loss"] = None if not np.isfinite(self.best_val_loss) else self.best_val_loss
        tmp.write_text(json.dumps(values, indent=1))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "FitState":
        try:
            values = json.loads(path.read_text())
            if values.get("best_val_loss") is None:
                values["best_val_loss"] = float("inf")
            return cls(**values)
        except (json.JSONDecodeError, TypeError) as exc:
            raise CryoDiscoveryError(
                path, f"unreadable training state ({exc}); delete it or train without --resume"
            ) from None


def withhold(features: np.ndarray, rng: np.random.Generator, p_all: float, p_each: float) -> np.ndarray:
    """Training-time metadata dropout on ``(n, F)`` feature rows (:func:`~relion_cryodiscovery.data.features.withhold_metadata`);
    with both probabilities 0 the rows are copied and nothing is drawn from ``rng``."""
    if p_all <= 0 and p_each <= 0:
        return np.array(features, dtype=np.float32, copy=True)
    return withhold_metadata(features, rng, p_all, p_each)


def stage_rng(seed: int, stage: str, epoch: int) -> np.random.Generator:
    """The NumPy generator of one stage epoch (epoch -1 = model initialisation)."""
    return np.random.default_rng([int(seed), zlib.crc32(stage.encode()), int(epoch) + 1])


def stage_seed(seed: int, stage: str, epoch: int) -> int:
    """An int seed for Keras/TF derived from (seed, stage, epoch)."""
    return int(stage_rng(seed, stage, epoch).integers(0, 2**31 - 1))


def _flatten(arrays: TrainingArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    v = arrays.n_views
    images = arrays.images.reshape((-1,) + arrays.images.shape[2:])
    return (
        images,
        np.repeat(arrays.features, v, axis=0),
        np.repeat(arrays.labels, v),
        np.repeat(arrays.sample_weights(), v),
    )


def _signature(size: int, n_features: int) -> tuple:
    return (
        {
            "image": tf.TensorSpec((None, size, size, 1), tf.float32),
            "features": tf.TensorSpec((None, n_features), tf.float32),
        },
        tf.TensorSpec((None, 1), tf.float32),
        tf.TensorSpec((None,), tf.float32),
    )


def training_batches(
    arrays: TrainingArrays, config: TrainConfig, stage: str, epoch: int, global_batch: int
) -> Iterator[tuple[dict, np.ndarray, np.ndarray]]:
    """Shuffled, augmented, metadata-withheld batches of one epoch (deterministic)."""
    images, features, labels, weights = _flatten(arrays)
    rng = stage_rng(config.seed, stage, epoch)
    order = rng.permutation(len(images))
    for start in range(0, len(order), global_batch):
        idx = order[start:start + global_batch]
        x = augment_images(images[idx], rng, config.augment)
        f = withhold(features[idx], rng, config.withhold_all, config.withhold_each)
        if config.count_shift > 0:
            f = shift_particle_counts(f, rng, config.count_shift_p, config.count_shift)
        yield {"image": x[..., None], "features": f}, labels[idx, None], weights[idx]


def make_train_dataset(
    arrays: TrainingArrays, config: TrainConfig, stage: str, epoch: int, global_batch: int
) -> tf.data.Dataset:
    """tf.data pipeline of one epoch: seeded shuffle + augmentation (generator), batch, prefetch."""
    n_batches = -(-len(arrays) * arrays.n_views // global_batch)
    dataset = tf.data.Dataset.from_generator(
        lambda: training_batches(arrays, config, stage, epoch, global_batch),
        output_signature=_signature(arrays.images.shape[-1], arrays.n_features),
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)
    return dataset.with_options(_options())


def make_eval_dataset(arrays: TrainingArrays, global_batch: int) -> tf.data.Dataset:
    """Un-augmented views of ``arrays`` in order, batched."""
    images, features, labels, weights = _flatten(arrays)
    dataset = tf.data.Dataset.from_tensor_slices(
        ({"image": images[..., None], "features": features}, labels[:, None], weights)
    )
    return dataset.batch(global_batch).prefetch(2).with_options(_options())


def _options() -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _digest(arrays: TrainingArrays) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(arrays.labels).tobytes())
    digest.update(np.ascontiguousarray(arrays.features).tobytes())
    digest.update(np.ascontiguousarray(arrays.images[:, :, ::8, ::8]).tobytes())
    return digest.hexdigest()


def _save_model(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".partial.keras")
    model.save(tmp)
    os.replace(tmp, path)


def reseed_layers(model: keras.Model, seed: int) -> None:
    """Reset the random state of every layer that draws random numbers (Dropout).

    Keras draws a layer's initial seed when the layer is created, and a model reloaded from a
    checkpoint gets a new one; resetting it from ``(seed, stage, epoch)`` at the start of each
    epoch makes a resumed run identical to an uninterrupted one.
    """
    for number, layer in enumerate(model.layers):
        generator = getattr(layer, "seed_generator", None)
        if generator is not None:
            state = np.array([(seed + 7919 * number) % (2**31 - 1), 0], dtype=str(generator.state.dtype))
            generator.state.assign(state)


def enable_determinism(seed: int) -> None:
    """Seed Python/NumPy/TF and make TF ops deterministic."""
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def fit_model(
    stage: str,
    build_model: Callable[[], keras.Model],
    train: TrainingArrays,
    val: TrainingArrays,
    config: TrainConfig,
    strategy: tf.distribute.Strategy | None,
    checkpoint_dir: str | Path,
    resume: bool = False,
    log: Log | None = None,
    should_abort: Callable[[], bool] | None = None,
) -> keras.Model:
    """Train one member; return it with the weights of its best validation epoch.

    ``build_model`` is called inside ``strategy.scope()`` and must return a compiled model
    (fresh, or initialised from given weights for fine-tuning).
    """
    log = log or _logger.info
    strategy = strategy or tf.distribute.get_strategy()
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"{stage}: empty training ({len(train)}) or validation ({len(val)}) set")
    if train.n_features != 2 * len(FEATURE_NAMES):
        raise ValueError(f"{stage}: feature rows have {train.n_features} columns, the feature layout "
                         f"(data.features) has {2 * len(FEATURE_NAMES)}")
    directory = Path(checkpoint_dir)
    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / "state.json"
    digest = _digest(train)
    enable_determinism(stage_seed(config.seed, stage, -1))

    state = FitState(stage=stage, n_train=len(train), data_digest=digest)
    model: keras.Model | None = None
    if resume and state_path.exists():
        state = FitState.load(state_path)
        if state.data_digest != digest:
            raise CryoDiscoveryError(
                state_path, f"{stage}: training data differ from the interrupted run; cannot resume"
            )
        if state.done:
            log(f"{stage}: already trained (best epoch {state.best_epoch}); "
                f"loading {directory / 'best.keras'}")
            return load_member(directory / "best.keras", strategy, compile=True)
        if state.epoch > 0:
            checkpoint = directory / f"epoch_{state.epoch:03d}.keras"
            log(f"{stage}: resuming after epoch {state.epoch} from {checkpoint}")
            model = load_member(checkpoint, strategy, compile=True)
    if model is None:
        for stale in directory.glob("*.keras"):
            stale.unlink()
        state = FitState(stage=stage, n_train=len(train), data_digest=digest)
        with strategy.scope():
            model = build_model()

    batch = global_batch_size(config.batch_size, strategy)
    val_data = make_eval_dataset(val, batch)
    n_views = len(train) * train.n_views
    log(f"{stage}: {len(train)} classes ({n_views} views), {len(val)} validation classes, "
        f"global batch {batch} on {strategy.num_replicas_in_sync} replica(s)")
    for epoch in range(state.epoch, config.epochs):
        epoch_seed = stage_seed(config.seed, stage, epoch)
        keras.utils.set_random_seed(epoch_seed)
        reseed_layers(model, epoch_seed)
        started = time.perf_counter()
        fitted = model.fit(make_train_dataset(train, config, stage, epoch, batch), epochs=1,
                           shuffle=False, verbose=config.verbose)
        share_first_replica_values(model.non_trainable_variables, strategy)  # BatchNorm statistics
        seconds = time.perf_counter() - started
        scores = model.evaluate(val_data, verbose=0, return_dict=True)
        record = {
            "epoch": epoch + 1,
            "loss": float(fitted.history["loss"][-1]),
            "accuracy": float(fitted.history["accuracy"][-1]),
            "val_loss": float(scores["loss"]),
            "val_accuracy": float(scores["accuracy"]),
            "seconds": seconds,
            "images_per_second": n_views / seconds,
        }
        state.history.append(record)
        state.epoch = epoch + 1
        if record["val_loss"] < state.best_val_loss - config.min_delta:
            state.best_val_loss, state.best_epoch, state.wait = record["val_loss"], epoch + 1, 0
            _save_model(model, directory / "best.keras")
        else:
            state.wait += 1
        _save_model(model, directory / f"epoch_{epoch + 1:03d}.keras")
        for old in sorted(directory.glob("epoch_*.keras"))[:-max(config.keep_checkpoints, 1)]:
            old.unlink()
        stop = state.wait >= config.patience
        state.done = stop or epoch + 1 == config.epochs
        state.save(state_path)
        log(f"{stage} epoch {epoch + 1}/{config.epochs}: "
            f"loss {record['loss']:.4f} acc {record['accuracy']:.3f} "
            f"val_loss {record['val_loss']:.4f} val_acc {record['val_accuracy']:.3f} "
            f"(best {state.best_val_loss:.4f} @ {state.best_epoch}) {seconds:.1f}s "
            f"{record['images_per_second']:.0f} img/s" + (" - early stop" if stop else ""))
        if should_abort is not None and should_abort() and not state.done:
            raise JobAborted(f"{stage}: abort requested after epoch {epoch + 1} (checkpoint saved)")
        if stop:
            break
    if not state.done:  # resumed with epochs already reached
        state.done = True
        state.save(state_path)
    return load_member(directory / "best.keras", strategy, compile=True)
