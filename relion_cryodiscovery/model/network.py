"""The CNN that scores one class view: an image branch and a metadata branch, sigmoid P(good).

The same network with a softmax head over several labels (``n_outputs`` > 1) is the reason model, which
names the kind of junk a rejected class is (``model/reasons.py``).

Built only from built-in Keras layers so a saved ``.keras`` file loads with
``keras.saving.load_model(path, safe_mode=True)`` and no ``custom_objects``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import keras
import numpy as np
from keras import layers

#: Side of the square network image (see ``data/preprocess.py``).
IMAGE_SIZE = 64


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of one ensemble member (stored in the model card)."""

    #: Number of conv blocks (each: conv, optional batch norm, activation, 2x2 max pool);
    #: at most log2(64 / stem_stride) blocks.
    depth: int = 4
    #: Filters of the first block; doubled every block.
    width: int = 16
    #: Any built-in Keras activation name ("relu", "elu", "selu", "gelu", "swish", ...).
    activation: str = "relu"
    #: Dropout rate before the classifier head.
    dropout: float = 0.3
    #: Units of the dense layer that sees image and metadata together.
    dense_units: int = 64
    #: Units of the metadata branch.
    metadata_units: int = 16
    #: Batch normalisation after every conv.
    batch_norm: bool = True
    #: Conv kernel size.
    kernel_size: int = 3
    #: Stride of the first conv (2 halves the grid at once: ~4x cheaper, for >1000 classes/s on 2 cores).
    stem_stride: int = 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "NetworkConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown network config keys: {sorted(unknown)}")
        return cls(**values)


#: Feature columns whose training variance is below this are scaled by 1 (not 1/eps): missing
#: flags that never fire in the training data must not explode when they do at inference.
MIN_FEATURE_VARIANCE = 1e-4


def feature_statistics(sample: np.ndarray | None, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and variance for the ``Normalization`` layer (identity when no sample)."""
    if sample is None or len(sample) == 0:
        return np.zeros(n_features, np.float32), np.ones(n_features, np.float32)
    sample = np.asarray(sample, dtype=np.float64)
    if sample.ndim != 2 or sample.shape[1] != n_features:
        raise ValueError(f"feature sample must be (M, {n_features}), got {sample.shape}")
    variance = sample.var(axis=0)
    variance = np.where(variance < MIN_FEATURE_VARIANCE, 1.0, variance)
    return sample.mean(axis=0).astype(np.float32), variance.astype(np.float32)


def build_network(
    n_features: int, config: NetworkConfig = NetworkConfig(), feature_sample: np.ndarray | None = None,
    n_outputs: int = 1,
) -> keras.Model:
    """Return the (uncompiled) two-input network.

    ``feature_sample`` (M, F), when given, fixes the metadata branch's ``Normalization`` mean and
    variance (:func:`feature_statistics`; stored in the layer config as plain numbers); without
    it the layer is the identity. ``n_outputs`` 1: a sigmoid P(good) (``p_good``); more: a softmax
    over that many labels (``label_probabilities``).
    """
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}")
    if n_outputs < 1:
        raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
    if config.depth < 1 or config.width < 1 or IMAGE_SIZE // config.stem_stride < 2**config.depth:
        raise ValueError(f"depth/width/stem_stride do not fit a {IMAGE_SIZE}x{IMAGE_SIZE} image: {config}")

    image = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = image
    for block in range(config.depth):
        x = layers.Conv2D(
            config.width * 2**block,
            config.kernel_size,
            strides=config.stem_stride if block == 0 else 1,
            padding="same",
            use_bias=not config.batch_norm,
            name=f"conv{block + 1}",
        )(x)
        if config.batch_norm:
            x = layers.BatchNormalization(name=f"bn{block + 1}")(x)
        x = layers.Activation(config.activation, name=f"act{block + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="image_pool")(x)

    features = keras.Input(shape=(n_features,), name="features")
    mean, variance = feature_statistics(feature_sample, n_features)
    normalise = layers.Normalization(
        axis=-1, mean=mean.tolist(), variance=variance.tolist(), name="feature_norm"
    )
    m = normalise(features)
    m = layers.Dense(config.metadata_units, activation=config.activation, name="meta_dense")(m)

    h = layers.Concatenate(name="joint")([x, m])
    h = layers.Dropout(config.dropout, name="dropout")(h)
    h = layers.Dense(config.dense_units, activation=config.activation, name="dense")(h)
    h = layers.Dropout(config.dropout / 2, name="dropout_head")(h)
    inputs = {"image": image, "features": features}
    if n_outputs > 1:
        probabilities = layers.Dense(n_outputs, activation="softmax", name="label_probabilities", dtype="float32")(h)
        return keras.Model(inputs=inputs, outputs=probabilities, name="cryodiscovery_reasons")
    p_good = layers.Dense(1, activation="sigmoid", name="p_good", dtype="float32")(h)
    return keras.Model(inputs=inputs, outputs=p_good, name="cryodiscovery_cnn")


def compile_network(model: keras.Model, learning_rate: float) -> keras.Model:
    """Compile with Adam and binary cross-entropy, or sparse categorical cross-entropy for a softmax
    head (call inside the strategy scope)."""
    multiclass = model.output_shape[-1] > 1
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy() if multiclass else keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy") if multiclass
                 else keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    return model
