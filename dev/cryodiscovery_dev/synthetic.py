"""Tiny synthetic classes shared by the model and training tests: a bright disc is good, noise is bad.

Helpers only, no tests of their own: the arrays' shapes and balance hold by construction, so a test of them
could not fail. The training, boosting and distribution tests that import them (``tests/``, and the
processes those tests start) are where they are exercised.
"""

from __future__ import annotations

import numpy as np

from relion_cryodiscovery.data.features import FEATURE_NAMES
from relion_cryodiscovery.model.network import NetworkConfig
from relion_cryodiscovery.training.boosting import BoostingConfig
from relion_cryodiscovery.training.trainer import TrainConfig, TrainingArrays

TINY_NETWORK = NetworkConfig(depth=2, width=4, dense_units=8, metadata_units=4, dropout=0.2)


def synthetic_arrays(n: int = 48, views: int = 1, seed: int = 0) -> TrainingArrays:
    """``n`` classes of ``views`` 64x64 views; half good (disc + noise), half bad (noise only); feature
    rows in the real layout (one value per :data:`FEATURE_NAMES`, then its missing flag)."""
    n_values = len(FEATURE_NAMES)
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2).astype(np.float32)
    rng.shuffle(labels)
    yy, xx = np.mgrid[:64, :64] - 31.5
    disc = (np.hypot(yy, xx) < 14).astype(np.float32) * 1.5
    images = rng.standard_normal((n, views, 64, 64)).astype(np.float32)
    images += labels[:, None, None, None] * disc
    values = rng.standard_normal((n, n_values)) + labels[:, None] * 0.5
    flags = np.zeros((n, n_values))
    features = np.concatenate([values, flags], axis=1).astype(np.float32)
    groups = np.array([f"job{i % 3:03d}" for i in range(n)])
    return TrainingArrays(images, features, labels, groups)


def tiny_config(epochs: int = 2, **boosting: object) -> BoostingConfig:
    """A network and fit loop small enough for a test (seconds per stage)."""
    train = TrainConfig(epochs=epochs, batch_size=16, learning_rate=3e-3, patience=5, verbose=0, seed=7)
    return BoostingConfig(network=TINY_NETWORK, train=train, min_stage_classes=8, **boosting)

