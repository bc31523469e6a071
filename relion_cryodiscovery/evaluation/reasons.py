"""How well the reason model names junk: per-reason precision and recall, agreement with labels by eye."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..model.reasons import REASONS


def reason_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy, per-reason precision / recall / support and the confusion matrix (rows: truth,
    columns: predicted, in :data:`REASONS` order) of reason indices; entries < 0 in ``truth`` are left out."""
    truth, predicted = np.asarray(truth, dtype=int), np.asarray(predicted, dtype=int)
    keep = truth >= 0
    truth, predicted = truth[keep], predicted[keep]
    k = len(REASONS)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    per_reason = {}
    for i, reason in enumerate(REASONS):
        support, called = int(confusion[i].sum()), int(confusion[:, i].sum())
        per_reason[reason] = {"support": support, "predicted": called,
                              "recall": float(confusion[i, i] / support) if support else float("nan"),
                              "precision": float(confusion[i, i] / called) if called else float("nan")}
    return {"classes": int(len(truth)), "accuracy": float((truth == predicted).mean()) if len(truth) else float("nan"),
            "per_reason": per_reason, "confusion": confusion.tolist()}


#: Kinds labelled by eye that the reason model does not name (left out of the agreement, counted).
NOT_NAMED = ("unsure", "mixed")


def junk_kinds_by_eye(path: str | Path) -> dict[str, dict[int, str]]:
    """The real rejected classes' kinds labelled by eye (``benchmarks/real_sets/junk_kinds_by_eye.csv``):
    ``{set: {class number: reason}}``, without the classes whose two passes disagreed (``unsure``) and
    those labelled ``mixed`` (a kind the reason model folds into low resolution: :data:`NOT_NAMED`)."""
    labels: dict[str, dict[int, str]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["final"] in NOT_NAMED:
                continue
            if row["final"] not in REASONS:
                raise ValueError(f"{path}: unknown kind {row['final']!r} (set {row['set']}, class {row['class']})")
            labels.setdefault(row["set"], {})[int(row["class"])] = row["final"]
    return labels


def confident_calls(probabilities: np.ndarray, truth: np.ndarray, min_probability: float) -> dict:
    """The calls the outputs name (most likely kind at ``min_probability`` or above; the rest say
    ``unclear``): the fraction of classes named and how many of those are right."""
    probabilities, truth = np.asarray(probabilities), np.asarray(truth, dtype=int)
    called = probabilities.max(axis=1) >= min_probability
    right = probabilities.argmax(axis=1) == truth
    return {"min_probability": float(min_probability), "named": float(called.mean()),
            "correct_when_named": float(right[called].mean()) if called.any() else float("nan")}


def real_reason_agreement(model, real_sets, by_eye: dict[str, dict[int, str]]) -> dict:
    """The reason model (:class:`~relion_cryodiscovery.model.reasons.ReasonModel`) on the real rejected
    classes labelled by eye (:func:`junk_kinds_by_eye`): :func:`reason_metrics` pooled and per set, beside
    the trivial baseline of always answering the most common kind by eye, and :func:`confident_calls` at
    the model's ``min_probability``."""
    from ..data.inputs import oriented_model_inputs

    truth, predicted, per_set, probabilities = [], [], {}, []
    for real in real_sets:
        labels = by_eye.get(real.spec.name)
        if not labels:
            continue
        inputs, _ = oriented_model_inputs(real.classes)
        numbers = [int(n) for n in real.classes.class_numbers]
        rows = [numbers.index(c) for c in labels]
        t = np.array([REASONS.index(labels[numbers[r]]) for r in rows])
        q = model.predict(inputs.images[rows], inputs.features[rows])
        p = q.argmax(axis=1)
        probabilities.append(q)
        per_set[real.spec.name] = reason_metrics(t, p)
        truth.append(t)
        predicted.append(p)
    truth_all, predicted_all = np.concatenate(truth), np.concatenate(predicted)
    pooled = reason_metrics(truth_all, predicted_all)
    common = int(np.bincount(truth_all, minlength=len(REASONS)).argmax())
    pooled["baseline_most_common"] = {"reason": REASONS[common], "accuracy": float((truth_all == common).mean())}
    pooled["confident"] = confident_calls(np.concatenate(probabilities), truth_all, model.min_probability)
    return {"pooled": pooled, "per_set": per_set}


def grade_rank_correlation(ours: list[str], expert: list[str]) -> float:
    """Spearman's rho between our A-F grades and an expert's (A B C D E F as 1-6; ties ranked)."""
    from scipy.stats import spearmanr

    order = {letter: i for i, letter in enumerate("ABCDEF", start=1)}
    return float(spearmanr([order[g] for g in ours], [order[g] for g in expert]).statistic)
