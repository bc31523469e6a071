"""Why a class is junk: the reason model, a small network beside the ensemble (issue #23).

The ensemble says *whether* a class is good. The reason model says what a junk class is made of, so a
user can tell a grid problem (ice, support edges) from a sample problem (aggregates) from a picking
problem (clipped or off-centre particles), a resolution problem (featureless blobs) or noise. It is the
ensemble's network with a softmax head over :data:`REASONS` (:func:`.network.build_network`,
``n_outputs``), trained on the junk classes of the lab-like corpus, whose simulator knows what each junk
class is made of (:data:`SIMULATED_KIND_REASONS`), by ``scripts/train_reason_model.py``.

A model directory may carry ``reasons.keras`` and ``reasons.onnx``; its card records them in
``extra["reasons"]`` (labels, checksums, measured figures). Loading is as safe as the members'
(Keras ``safe_mode``; ONNX bytes checked against the card). A model without them has no learned
reasons: the outputs then carry the rule reasons only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CryoDiscoveryError
from .card import ModelCard, file_sha256
from .vote import check_inputs, class_means

#: What a rejected class is made of, as the outputs name it.
REASONS: tuple[str, ...] = (
    "low resolution", "noise", "aggregate", "clipped or off-centre", "ice", "carbon/edge",
)
#: The lab simulator's class kinds (``simulate/lab_classes.py``) -> the reason they teach. A ``particle``
#: or ``misaligned`` class that is not good did not resolve detail for its size: ``low resolution``; so
#: does a ``mixed`` class (particles averaged with junk): a separate ``mixed`` reason was tried and
#: confused with low resolution on simulated and real classes alike (docs/model_card_notes.md, section 9).
SIMULATED_KIND_REASONS: dict[str, str] = {
    "particle": "low resolution", "misaligned": "low resolution", "blob": "low resolution",
    "noise_attractor": "noise", "empty": "noise", "streaky": "noise", "stripes": "noise", "aligned_noise": "noise",
    "aggregate": "aggregate",
    "clipped": "clipped or off-centre", "neighbours": "clipped or off-centre",
    "ice": "ice",
    "carbon_edge": "carbon/edge",
    "mixed": "low resolution",
}
#: What the outputs say when the reason model is not sure: its most likely kind's probability is below
#: the model's ``min_probability`` (the card's ``extra.reasons.min_probability_rule`` says how it was chosen:
#: for the shipped model, >= 80% right on real classes labelled by eye that it was never trained on; before,
#: >= 95% right on simulated validation junk; :data:`DEFAULT_MIN_PROBABILITY` for a card without one).
UNCLEAR = "unclear"
DEFAULT_MIN_PROBABILITY = 0.7
#: File stem of the reason model in a model directory, and its entry in the card's ``extra``.
NAME = "reasons"
CARD_KEY = "reasons"


def reason_labels(kinds: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Index into :data:`REASONS` of each simulated class's reason; -1 for good classes (no reason)."""
    kinds, good = np.asarray(kinds).astype(str), np.asarray(good).astype(int)
    unknown = sorted(set(kinds[good == 0]) - set(SIMULATED_KIND_REASONS))
    if unknown:
        raise ValueError(f"simulated kinds without a reason: {unknown}")
    index = {reason: i for i, reason in enumerate(REASONS)}
    return np.array([-1 if g else index[SIMULATED_KIND_REASONS[k]] for k, g in zip(kinds, good)], dtype=np.int64)


def reasons_unavailable(card: ModelCard, directory: Path, runtime: str) -> str | None:
    """Why the model in ``directory`` has no usable reason model for ``runtime`` ("onnxruntime" or
    "tensorflow"); None: it has one."""
    record = card.extra.get(CARD_KEY)
    if not isinstance(record, dict) or not record.get("files"):
        return "its model card records no reason model (scripts/train_reason_model.py adds one)"
    if tuple(record.get("labels", ())) != REASONS:
        return f"its reason model names {record.get('labels')}, not {list(REASONS)}"
    name = f"{NAME}.onnx" if runtime == "onnxruntime" else f"{NAME}.keras"
    path = directory / name
    if name not in record["files"] or not path.is_file():
        return f"{name} is missing or not recorded in the model card"
    if file_sha256(path) != record["files"][name]:
        return f"{name} differs from the file recorded in the model card (checksum)"
    return None


@dataclass
class ReasonModel:
    """The reason model of one model directory, on one runtime."""

    #: ``(views (n, S, S), features (n, F))`` -> ``(n, len(REASONS))`` probabilities.
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    runtime: str
    #: A kind is named only at this probability or above (:data:`UNCLEAR` below it).
    min_probability: float = DEFAULT_MIN_PROBABILITY

    @classmethod
    def load(cls, directory: str | Path, card: ModelCard, runtime: str = "onnxruntime",
             threads: int | None = None) -> "ReasonModel | None":
        """The reason model, or None when the directory has none usable (:func:`reasons_unavailable`)."""
        directory = Path(directory)
        if reasons_unavailable(card, directory, runtime) is not None:
            return None
        confident = float(card.extra[CARD_KEY].get("min_probability", DEFAULT_MIN_PROBABILITY))
        if runtime == "onnxruntime":
            from .onnx_members import _session

            session = _session(directory / f"{NAME}.onnx", card.extra[CARD_KEY]["files"][f"{NAME}.onnx"], threads)

            def forward(views: np.ndarray, features: np.ndarray) -> np.ndarray:
                feeds = {"image": np.ascontiguousarray(views[..., None], dtype=np.float32),
                         "features": np.ascontiguousarray(features, dtype=np.float32)}
                return np.asarray(session.run(None, feeds)[0], dtype=np.float32)

            return cls(forward, runtime, confident)
        if runtime == "tensorflow":
            import keras

            return cls.of_keras(keras.saving.load_model(directory / f"{NAME}.keras", compile=False, safe_mode=True),
                                confident)
        raise CryoDiscoveryError(directory, f"unknown runtime {runtime!r} for the reason model")

    @classmethod
    def of_keras(cls, model, min_probability: float = DEFAULT_MIN_PROBABILITY) -> "ReasonModel":
        """A Keras reason network (loaded, or just trained) as a :class:`ReasonModel`."""

        def forward(views: np.ndarray, features: np.ndarray) -> np.ndarray:
            return np.asarray(model({"image": views[..., None], "features": features}, training=False))

        return cls(forward, "tensorflow", min_probability)

    def predict(self, images: np.ndarray, features: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``(K, len(REASONS))`` probabilities per class (mean over its views)."""
        images, features = check_inputs(images, features)
        return class_means(self.forward, len(REASONS), images, features, batch_size)


def most_likely(probabilities: np.ndarray, min_probability: float = 0.0) -> tuple[list[str], np.ndarray]:
    """Each class's most likely reason and its probability; :data:`UNCLEAR` where that probability is
    below ``min_probability``."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    best = probabilities.argmax(axis=1)
    p = probabilities[np.arange(len(best)), best]
    return [REASONS[i] if q >= min_probability else UNCLEAR for i, q in zip(best, p)], p


#: Grades, best first: A-C kept, D-F rejected (as the expert-graded Magellon set and CryoSift grade classes).
GRADES: tuple[str, ...] = ("A", "B", "C", "D", "F")
#: A kept class is graded A from this score (the score at which the job-relative bar trusts a job's best
#: classes), B from GRADE_B, C below.
GRADE_A = 0.95
GRADE_B = 0.7
#: Junk kinds with no usable particle in them: a rejected class of one of these kinds is graded F ("unusable");
#: a rejected class that shows a particle badly (low resolution, clipped or off-centre, mixed) is D ("bad").
NO_PARTICLE_REASONS: tuple[str, ...] = ("noise", "ice", "carbon/edge", "aggregate")


def grade(selected: bool, score: float, junk_kind: str = "", eligible: bool = True) -> str:
    """A-F for one class from the decision, the calibrated score and the learned junk kind ("" when unknown).

    Kept: A (score >= :data:`GRADE_A`), B (>= :data:`GRADE_B`), C. Rejected: F when the class cannot be
    used at all (an unusable image or no particles: ``eligible`` False) or its kind has no particle in it
    (:data:`NO_PARTICLE_REASONS`); D otherwise, including when the kind is unknown or :data:`UNCLEAR`.
    """
    if selected:
        return "A" if score >= GRADE_A else "B" if score >= GRADE_B else "C"
    if not eligible or junk_kind in NO_PARTICLE_REASONS:
        return "F"
    return "D"
