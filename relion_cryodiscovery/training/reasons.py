"""Train the reason model (:mod:`relion_cryodiscovery.model.reasons`) and add it to a model directory.

The same fit as an ensemble member (:func:`.trainer.fit_model`: augmentation, metadata withheld,
``tf.distribute``, checkpoints, determinism), on the junk classes only, with a softmax head over
:data:`~relion_cryodiscovery.model.reasons.REASONS` and each reason weighted by its inverse frequency
(so the rare kinds, ice and support edges, are not drowned by low-resolution classes). The trained
network is saved as ``reasons.keras`` beside the members, exported to ``reasons.onnx`` (checked against
Keras like the members) and recorded in the card's ``extra["reasons"]``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ..model.card import ModelCard, file_sha256
from ..model.network import NetworkConfig, build_network, compile_network
from ..model.reasons import CARD_KEY, NAME, REASONS
from .trainer import TrainConfig, TrainingArrays, fit_model

#: Largest |ONNX - Keras| probability accepted for the exported reason model.
TOLERANCE = 1e-5


def junk_only(arrays: TrainingArrays, reasons: np.ndarray, power: float = 0.5) -> TrainingArrays:
    """The junk classes of ``arrays`` (``reasons`` >= 0), labelled by reason and weighted by inverse
    frequency to the ``power`` (1: every reason weighs the same in total; 0.5, the default, halfway in
    log: full balancing made the rare kinds the model's favourite answers on real classes), mean weight 1."""
    reasons = np.asarray(reasons)
    rows = np.flatnonzero(reasons >= 0)
    labels = reasons[rows]
    counts = np.bincount(labels, minlength=len(REASONS)).astype(float)
    weight = np.where(counts > 0, 1.0 / np.maximum(counts, 1) ** power, 0.0)
    weight = weight / (weight[labels].mean() if len(labels) else 1.0)
    return TrainingArrays(arrays.images[rows], arrays.features[rows], labels.astype(np.float32),
                          arrays.groups[rows], weight[labels].astype(np.float32), n_labels=len(REASONS))


def confidence_threshold(probabilities: np.ndarray, truth: np.ndarray, precision: float = 0.95) -> float:
    """The smallest probability (0.30, 0.35, ... 0.95) at which the reason model's calls on validation
    classes are at least ``precision`` correct: below it the outputs say ``unclear``."""
    from ..evaluation.reasons import threshold_for_precision

    return threshold_for_precision(probabilities, truth, precision)


def real_training_arrays(labelled, weight: float) -> TrainingArrays:
    """Labelled real classes (:class:`~relion_cryodiscovery.evaluation.reasons.LabelledRealSet`, e.g. all
    sets but the held-out one) as reason-training classes, each weighing ``weight`` (the simulated junk
    classes weigh 1 on average, :func:`junk_only`), grouped by set."""
    images = np.concatenate([s.images for s in labelled])
    labels = np.concatenate([s.truth for s in labelled])
    return TrainingArrays(images, np.concatenate([s.features for s in labelled]), labels.astype(np.float32),
                          np.concatenate([[f"real:{s.name}"] * len(s.truth) for s in labelled]),
                          np.full(len(labels), weight, np.float32), n_labels=len(REASONS))


def joined(parts: list[TrainingArrays]) -> TrainingArrays:
    """Reason-training classes of several parts in one (each part's weights kept)."""
    return TrainingArrays(np.concatenate([p.images for p in parts]), np.concatenate([p.features for p in parts]),
                          np.concatenate([p.labels for p in parts]), np.concatenate([p.groups for p in parts]),
                          np.concatenate([p.sample_weights() for p in parts]).astype(np.float32), n_labels=len(REASONS))


def train_reasons(train: TrainingArrays, val: TrainingArrays, network: NetworkConfig, config: TrainConfig,
                  checkpoint_dir: str | Path, strategy: Any = None, log=print, init_from: str | Path | None = None,
                  fine_tune: str | Path | None = None):
    """Fit the reason model on junk-only ``train``/``val`` (:func:`junk_only`); return the Keras model.

    ``init_from``: a member's ``.keras`` file (e.g. the ensemble's ``d1.keras``, same ``network``) whose
    weights start every layer but the head, so the reasons build on what the member learned from real
    ``relion_refine`` classes as well as simulated ones. ``fine_tune``: a trained reason network's
    ``.keras`` file that starts every layer, head included (``init_from`` then unused)."""

    def build():
        import keras

        if fine_tune is not None:
            return compile_network(keras.saving.load_model(fine_tune, compile=False, safe_mode=True),
                                   config.learning_rate)
        model = build_network(train.n_features, network, feature_sample=train.features, n_outputs=len(REASONS))
        if init_from is not None:
            import keras

            member = keras.saving.load_model(init_from, compile=False, safe_mode=True)
            for layer in model.layers:
                if layer.name == "label_probabilities" or not layer.weights:
                    continue
                source = member.get_layer(layer.name)
                if [w.shape for w in source.weights] == [w.shape for w in layer.weights]:
                    layer.set_weights(source.get_weights())
        return compile_network(model, config.learning_rate)

    return fit_model("reasons", build, train, val, config, strategy, checkpoint_dir, log=log)


def add_to_model(model, card: ModelCard, directory: str | Path, metrics: dict) -> dict:
    """Save ``model`` as ``reasons.keras`` and ``reasons.onnx`` in ``directory`` and record them (with
    ``metrics``) in ``card.extra["reasons"]``; the caller saves the card. Returns the record."""
    from ..model.onnx_export import _difference, member_proto

    directory = Path(directory)
    model.save(directory / f"{NAME}.keras")
    data = member_proto(model, output="label_probabilities").SerializeToString()
    difference = _difference(model, data)
    if difference > TOLERANCE:
        raise RuntimeError(f"the reason model's ONNX export differs from Keras by {difference:.2g}")
    (directory / f"{NAME}.onnx").write_bytes(data)
    record = {"labels": list(REASONS),
              "files": {f"{NAME}.keras": file_sha256(directory / f"{NAME}.keras"),
                        f"{NAME}.onnx": hashlib.sha256(data).hexdigest()},
              "onnx_max_abs_difference": difference, **metrics}
    card.extra[CARD_KEY] = record
    return record
