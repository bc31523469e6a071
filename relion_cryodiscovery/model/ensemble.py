"""The boosted ensemble of Keras members: safe save/load and batched inference with TensorFlow.

The score rule (d1 and d2 vote, d3 breaks ties, calibration) is :mod:`.vote`'s, shared with the ONNX
Runtime path (:mod:`.onnx_members`); this module supplies the Keras members' forward pass.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..errors import CryoDiscoveryError
from .calibration import PlattCalibration
from .card import ModelCard
from .vote import MEMBERS, EnsembleScores, Forward, class_means, combine_scores, predict as vote_predict

__all__ = ["MEMBERS", "BoostedEnsemble", "EnsembleScores", "combine_scores", "load_member", "predict_views"]

#: Pseudo class names Keras writes inside config.json for tensors (not code).
_DATA_CLASS_NAMES = {
    "__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__typespec__", "__slice__", "__ellipsis__",
}
_CODE_CLASS_NAMES = {"Lambda", "__lambda__", "function", "TFOpLambda"}


class _Forward:
    """Run several models on one batch of views, distributed over the strategy's replicas."""

    def __init__(self, models: list[keras.Model], strategy: tf.distribute.Strategy | None):
        self.models = models
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = int(self.strategy.num_replicas_in_sync)
        step = self._replicated if self.replicas > 1 else self._local
        # No autograph: the step has no tensor-dependent Python control flow, so the graph is the
        # same, and tracing skips the source conversion (~0.1 s of the job's first inference).
        self._step = tf.function(step, reduce_retracing=True, autograph=False)

    def _call(self, image: tf.Tensor, features: tf.Tensor) -> tf.Tensor:
        inputs = {"image": image, "features": features}
        return tf.concat([m(inputs, training=False) for m in self.models], axis=1)

    def _local(self, image: tf.Tensor, features: tf.Tensor) -> tf.Tensor:
        return self._call(image, features)

    def _replicated(self, image: Any, features: Any) -> tf.Tensor:
        per_replica = self.strategy.run(self._call, args=(image, features))
        return self.strategy.gather(per_replica, axis=0)

    def __call__(self, image: np.ndarray, features: np.ndarray) -> np.ndarray:
        """``image (n, S, S)``, ``features (n, F)`` -> ``(n, len(models))`` probabilities."""
        image = np.asarray(image, dtype=np.float32)[..., None]
        features = np.asarray(features, dtype=np.float32)
        if self.replicas == 1:
            return self._step(tf.constant(image), tf.constant(features)).numpy()
        bounds = np.linspace(0, len(image), self.replicas + 1).astype(int)

        def chunk(array: np.ndarray) -> Any:
            def part(ctx: tf.distribute.experimental.ValueContext) -> tf.Tensor:
                replica = ctx.replica_id_in_sync_group
                return tf.constant(array[bounds[replica]:bounds[replica + 1]])

            return self.strategy.experimental_distribute_values_from_function(part)

        return self._step(chunk(image), chunk(features)).numpy()


def predict_views(
    models: list[keras.Model],
    images: np.ndarray,
    features: np.ndarray,
    batch_size: int = 256,
    strategy: tf.distribute.Strategy | None = None,
    should_abort: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Per-class probabilities ``(K, len(models))`` = mean over each class's V views (:func:`.vote.class_means`)."""
    return class_means(_Forward(models, strategy), len(models), images, features, batch_size, should_abort)


@dataclass
class KerasMembers:
    """:class:`.vote.Members` of Keras models on a tf.distribute strategy."""

    models: dict[str, keras.Model]
    strategy: tf.distribute.Strategy | None = None

    def forward(self, names: Sequence[str]) -> Forward:
        return _Forward([self.models[name] for name in names], self.strategy)


def check_keras_archive(path: str | Path) -> None:
    """Refuse anything but a Keras zip archive of built-in layers (no Lambda, no custom classes)."""
    path = Path(path)
    if not path.is_file():
        raise CryoDiscoveryError(path, "model file not found")
    if not zipfile.is_zipfile(path):
        raise CryoDiscoveryError(path, "not a Keras .keras zip archive; refusing to load it")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names or "model.weights.h5" not in names:
                raise CryoDiscoveryError(path, "Keras archive lacks config.json or model.weights.h5")
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CryoDiscoveryError(path, f"unreadable Keras archive ({exc})") from None
    problem = _unsafe_object(config)
    if problem:
        raise CryoDiscoveryError(path, f"refusing to load model: {problem}")


def _unsafe_object(node: Any) -> str | None:
    """First Lambda / code / custom (non-Keras) class found in a Keras config tree, or None."""
    if isinstance(node, list):
        for item in node:
            found = _unsafe_object(item)
            if found:
                return found
        return None
    if not isinstance(node, dict):
        return None
    class_name = node.get("class_name")
    if isinstance(class_name, str) and class_name not in _DATA_CLASS_NAMES:
        module = node.get("module")
        registered = node.get("registered_name")
        if class_name in _CODE_CLASS_NAMES:
            return f"it contains a {class_name} layer/function (arbitrary code)"
        if module is not None and not str(module).startswith("keras"):
            return f"it contains class {class_name} from module {module!r} (not a built-in Keras class)"
        if isinstance(registered, str) and ">" in registered:
            return f"it contains custom registered class {registered!r}"
    for value in node.values():
        found = _unsafe_object(value)
        if found:
            return found
    return None


def load_member(
    path: str | Path, strategy: tf.distribute.Strategy | None = None, compile: bool = False
) -> keras.Model:
    """Safely load one ``.keras`` file (checked archive, ``safe_mode=True``)."""
    check_keras_archive(path)
    scope = strategy.scope() if strategy is not None else _null_scope()
    try:
        with scope:
            return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except CryoDiscoveryError:
        raise
    except Exception as exc:  # Keras raises many types for bad files
        raise CryoDiscoveryError(path, f"cannot load Keras model ({type(exc).__name__}: {exc})") from None


class _null_scope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass
class BoostedEnsemble:
    """Three Keras models plus their card."""

    d1: keras.Model
    d2: keras.Model
    d3: keras.Model
    card: ModelCard

    @property
    def threshold(self) -> float:
        return float(self.card.threshold)

    @property
    def calibration(self) -> PlattCalibration:
        return PlattCalibration.from_dict(self.card.calibration)

    def save(self, directory: str | Path) -> Path:
        """Write d1.keras, d2.keras, d3.keras, their ONNX exports (:mod:`.onnx_export`, recorded in the
        card) and model_card.json into ``directory``."""
        from .onnx_export import export_onnx

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name in MEMBERS:
            getattr(self, name).save(directory / f"{name}.keras")
        export_onnx({name: getattr(self, name) for name in MEMBERS}, self.card, directory)
        self.card.save(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path, strategy: tf.distribute.Strategy | None = None) -> "BoostedEnsemble":
        """Load a model directory; refuses unsafe or inconsistent files with a clear error."""
        directory = Path(directory)
        card = ModelCard.load(directory)
        models = {name: load_member(directory / f"{name}.keras", strategy) for name in MEMBERS}
        for name, model in models.items():
            width = model.input["features"].shape[-1] if isinstance(model.input, dict) else None
            if width is not None and width != card.n_features:
                raise CryoDiscoveryError(
                    directory / f"{name}.keras",
                    f"expects {width} features but the model card says {card.n_features}",
                )
        return cls(card=card, **models)

    def predict(
        self,
        images: np.ndarray,
        features: np.ndarray,
        batch_size: int = 256,
        strategy: tf.distribute.Strategy | None = None,
        should_abort: Callable[[], bool] | None = None,
    ) -> EnsembleScores:
        """Score K classes: ``images (K, V, 64, 64)``, ``features (K, F)``; :func:`.vote.predict`."""
        members = KerasMembers({name: getattr(self, name) for name in MEMBERS}, strategy)
        return vote_predict(members, self.card, images, features, batch_size, should_abort)
