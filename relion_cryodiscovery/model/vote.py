"""The ensemble's score rule, whatever runs the networks (TensorFlow or ONNX Runtime).

Score rule, per class (a class's probability from one model is the mean over its V views):

* ``d3_used = (p_d1 >= 0.5) != (p_d2 >= 0.5)`` -- d3 is run only on those classes;
* ``raw = (p_d1 + p_d2) / 2`` where d1 and d2 agree, ``raw = p_d3`` where they disagree;
* ``calibrated = card calibration(raw)`` (see :mod:`.calibration`).

So ``raw >= 0.5`` is exactly the majority vote of the three models, and ``p_d3`` is NaN where
d3 was not consulted. A runtime supplies only the per-member forward pass (:class:`Members`);
:func:`predict` is the one implementation of the rest. This module imports neither TensorFlow nor
ONNX Runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import JobAborted
from .calibration import PlattCalibration
from .card import ModelCard

MEMBERS = ("d1", "d2", "d3")
#: ``(views (n, S, S), features (n, F))`` -> ``(n, number of members)`` probabilities.
Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Members(Protocol):
    """The per-member forward pass of one runtime."""

    def forward(self, names: Sequence[str]) -> Forward:
        """A forward pass running the members ``names`` (from :data:`MEMBERS`) on one batch of views."""


@dataclass
class EnsembleScores:
    """Per-class outputs of :func:`predict` (all arrays have length K)."""

    p_d1: np.ndarray
    p_d2: np.ndarray
    #: NaN where d3 was not consulted.
    p_d3: np.ndarray
    #: True exactly where d1 and d2 disagree at 0.5.
    d3_used: np.ndarray
    raw: np.ndarray
    calibrated: np.ndarray


def combine_scores(p_d1: np.ndarray, p_d2: np.ndarray, p_d3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The module's score rule: return ``(d3_used, raw)``."""
    p_d1, p_d2, p_d3 = (np.asarray(p, dtype=np.float32) for p in (p_d1, p_d2, p_d3))
    d3_used = (p_d1 >= 0.5) != (p_d2 >= 0.5)
    raw = np.where(d3_used, p_d3, 0.5 * (p_d1 + p_d2)).astype(np.float32)
    return d3_used, raw


def check_inputs(images: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``images (K, V, S, S)`` and ``features (K, F)`` as float32, or a ValueError."""
    images = np.asarray(images, dtype=np.float32)
    features = np.asarray(features, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be (K, V, S, S), got shape {images.shape}")
    if features.ndim != 2 or len(features) != len(images):
        raise ValueError(f"features must be (K, F) with K={len(images)}, got shape {features.shape}")
    return images, features


def class_means(
    forward: Forward, width: int, images: np.ndarray, features: np.ndarray, batch_size: int = 256,
    should_abort: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Per-class probabilities ``(K, width)`` = mean over each class's V views of ``forward``'s outputs.

    ``batch_size`` counts view images per step (whole classes per batch, at least one).
    """
    images, features = check_inputs(images, features)
    k, v = images.shape[:2]
    per_batch = max(1, batch_size // max(v, 1))
    out = np.zeros((k, width), dtype=np.float32)
    for start in range(0, k, per_batch):
        if should_abort is not None and should_abort():
            raise JobAborted("abort requested during inference")
        stop = min(start + per_batch, k)
        views = images[start:stop].reshape((-1,) + images.shape[2:])
        rows = np.repeat(features[start:stop], v, axis=0)
        out[start:stop] = forward(views, rows).reshape(stop - start, v, width).mean(axis=1)
    return out


def predict(
    members: Members, card: ModelCard, images: np.ndarray, features: np.ndarray, batch_size: int = 256,
    should_abort: Callable[[], bool] | None = None,
) -> EnsembleScores:
    """Score K classes: ``images (K, V, 64, 64)``, ``features (K, F)``; see the module's rule."""
    images, features = check_inputs(images, features)
    if features.shape[1] != card.n_features:
        raise ValueError(f"model expects {card.n_features} features, got {features.shape[1]}")
    pair = class_means(members.forward(MEMBERS[:2]), 2, images, features, batch_size, should_abort)
    p_d1, p_d2 = pair[:, 0], pair[:, 1]
    p_d3 = np.full(len(images), np.nan, dtype=np.float32)
    disagree = np.flatnonzero((p_d1 >= 0.5) != (p_d2 >= 0.5))
    if len(disagree):
        p_d3[disagree] = class_means(members.forward(MEMBERS[2:]), 1, images[disagree], features[disagree],
                                     batch_size, should_abort)[:, 0]
    d3_used, raw = combine_scores(p_d1, p_d2, p_d3)
    return EnsembleScores(p_d1, p_d2, p_d3, d3_used, raw, PlattCalibration.from_dict(card.calibration)(raw))
