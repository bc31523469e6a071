"""Per-class classification metrics of a class selection against ground truth (numpy only).

Conventions: ``truth`` is 1 for a good class and 0 for junk, ``selected`` is the predicted
decision (1 = kept), ``scores`` the calibrated P(good) and ``particles`` the particle count of
each class. "Positive" means good, so the false-negative rate is the fraction of good classes
that the selection threw away.

Expected calibration error (ECE) uses 10 equal-width bins on [0, 1] (the last bin includes
1.0): ``ECE = sum_b (n_b / n) * |mean(truth in b) - mean(score in b)|``. Empty bins add nothing.

This module is the one implementation of these metrics: training (validation metrics and the sweep,
``training/boosting.py``), ``evaluate``, the real sets and the model card all call it. (scikit-learn's
``roc_auc_score`` gives the same AUC to 1e-16 but is 2.6x slower on 100k classes and takes 4 s to import.)

Degenerate inputs never raise: a rate whose denominator is zero, or an AUC when only one
label is present, is NaN and a sentence explaining why is appended to ``notes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Number of equal-width bins used by :func:`expected_calibration_error`.
ECE_BINS = 10


def _as_binary(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a 1-d int array of 0/1 (anything > 0 counts as 1)."""
    arr = np.asarray(values, dtype=float).ravel()
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return (arr > 0).astype(np.int64)


def _ratio(num: float, den: float) -> float:
    """num / den, NaN when den is zero."""
    return float(num) / float(den) if den else math.nan


def confusion_matrix(truth: Any, selected: Any) -> np.ndarray:
    """2x2 counts ``[[TN, FP], [FN, TP]]`` (rows: truth 0/1, columns: predicted 0/1)."""
    t = _as_binary(truth, "truth")
    p = _as_binary(selected, "selected")
    if t.shape != p.shape:
        raise ValueError(f"truth has {t.size} values but selected has {p.size}")
    cm = np.zeros((2, 2), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def _ranked(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative TP and FP counts at each distinct score threshold, scores descending."""
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], truth[order]
    tps = np.cumsum(t)
    fps = np.cumsum(1 - t)
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    return tps[last_of_tie], fps[last_of_tie], s[last_of_tie]


def roc_curve(truth: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate, thresholds), starting at (0, 0); NaN rates if one label."""
    t = _as_binary(truth, "truth")
    s = np.asarray(scores, dtype=float).ravel()
    if s.size == 0:
        return np.array([0.0]), np.array([0.0]), np.array([np.inf])
    tps, fps, thr = _ranked(t, s)
    n_pos, n_neg = int(t.sum()), int(t.size - t.sum())
    tpr = np.r_[0.0, tps / n_pos] if n_pos else np.full(tps.size + 1, np.nan)
    fpr = np.r_[0.0, fps / n_neg] if n_neg else np.full(fps.size + 1, np.nan)
    return fpr, tpr, np.r_[np.inf, thr]


def roc_auc(truth: Any, scores: Any) -> float:
    """Area under the ROC curve (ties count one half); NaN unless both labels occur."""
    fpr, tpr, _ = roc_curve(truth, scores)
    if np.isnan(fpr).any() or np.isnan(tpr).any():
        return math.nan
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def average_precision(truth: Any, scores: Any) -> float:
    """PR-AUC as average precision ``sum (R_n - R_{n-1}) P_n``; NaN when there is no good class."""
    t = _as_binary(truth, "truth")
    s = np.asarray(scores, dtype=float).ravel()
    n_pos = int(t.sum())
    if n_pos == 0 or s.size == 0:
        return math.nan
    tps, fps, _ = _ranked(t, s)
    precision = tps / (tps + fps)
    recall = tps / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def reliability_bins(truth: Any, scores: Any, n_bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per equal-width bin: count, mean score and fraction good (NaN for empty bins)."""
    t = _as_binary(truth, "truth").astype(float)
    s = np.clip(np.asarray(scores, dtype=float).ravel(), 0.0, 1.0)
    idx = np.minimum((s * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(idx, weights=s, minlength=n_bins) / count
        acc = np.bincount(idx, weights=t, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {"edges": edges, "count": count, "mean_score": conf, "fraction_good": acc}


def expected_calibration_error(truth: Any, scores: Any, n_bins: int = ECE_BINS) -> float:
    """ECE over ``n_bins`` equal-width bins of the score (see module docstring); NaN if empty."""
    bins = reliability_bins(truth, scores, n_bins)
    n = bins["count"].sum()
    if n == 0:
        return math.nan
    used = bins["count"] > 0
    gap = np.abs(bins["fraction_good"][used] - bins["mean_score"][used])
    return float(np.sum(bins["count"][used] / n * gap))


def binary_metrics(truth: Any, scores: Any, threshold: float) -> dict[str, float]:
    """Selecting ``scores >= threshold``: n, accuracy, false-negative/false-positive rates, precision,
    recall and ROC-AUC (the validation metrics stored in a model card)."""
    t = _as_binary(truth, "truth")
    s = np.asarray(scores, dtype=float).ravel()
    (tn, fp), (fn, tp) = confusion_matrix(t, s >= threshold).tolist()
    return {
        "n": float(t.size),
        "accuracy": _ratio(tp + tn, t.size),
        "false_negative_rate": _ratio(fn, tp + fn),
        "false_positive_rate": _ratio(fp, fp + tn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "roc_auc": roc_auc(t, s),
    }


def particle_fractions(truth: Any, selected: Any, particles: Any) -> dict[str, float]:
    """Particle-weighted: fraction of good-class particles kept and of junk-class particles removed."""
    t = _as_binary(truth, "truth")
    p = _as_binary(selected, "selected")
    n = np.asarray(particles, dtype=float).ravel()
    good, junk = n[t == 1].sum(), n[t == 0].sum()
    return {
        "good_particles_kept": _ratio(n[(t == 1) & (p == 1)].sum(), good),
        "junk_particles_removed": _ratio(n[(t == 0) & (p == 0)].sum(), junk),
        "particles_good": float(good),
        "particles_junk": float(junk),
        "particles_kept": float(n[p == 1].sum()),
    }


@dataclass
class ClassificationReport:
    """All per-class metrics plus notes on anything that could not be computed."""

    values: dict[str, float] = field(default_factory=dict)
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((2, 2), dtype=np.int64))
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN becomes None)."""
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.values.items()}
        tn, fp, fn, tp = (int(x) for x in self.confusion.ravel())
        confusion = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
        return {**clean, "confusion_matrix": confusion, "notes": list(self.notes)}


def classification_metrics(
    truth: Any, selected: Any, scores: Any | None = None, particles: Any | None = None
) -> ClassificationReport:
    """Accuracy, precision, recall, FNR, F1, ROC-AUC, PR-AUC, ECE, confusion and particle fractions."""
    t = _as_binary(truth, "truth")
    p = _as_binary(selected, "selected")
    cm = confusion_matrix(t, p)
    (tn, fp), (fn, tp) = cm.tolist()
    rep = ClassificationReport(confusion=cm)
    n = t.size
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    rep.values.update(
        n_classes=int(n),
        n_good=int(tp + fn),
        n_selected=int(tp + fp),
        accuracy=_ratio(tp + tn, n),
        precision=precision,
        recall=recall,
        false_negative_rate=_ratio(fn, tp + fn),
        false_positive_rate=_ratio(fp, fp + tn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
    )
    if n == 0:
        rep.notes.append("no classes to evaluate")
    if tp + fn == 0:
        rep.notes.append("truth has no good class: recall, false-negative rate and PR-AUC are undefined")
    if tp + fp == 0 and n:
        rep.notes.append("nothing was selected: precision is undefined")
    if scores is not None:
        s = np.asarray(scores, dtype=float).ravel()
        if s.size != n:
            raise ValueError(f"{n} truth labels but {s.size} scores")
        finite = np.isfinite(s)
        if not finite.all():
            rep.notes.append(f"{int((~finite).sum())} classes without a finite score left out of AUC/ECE")
        ts, ss = t[finite], s[finite]
        if ts.size and (ts.min() == ts.max()):
            rep.notes.append(f"all scored classes are {'good' if ts[0] else 'junk'}: ROC-AUC is undefined")
        rep.values.update(
            roc_auc=roc_auc(ts, ss),
            pr_auc=average_precision(ts, ss),
            ece=expected_calibration_error(ts, ss),
        )
    if particles is not None:
        counts = np.asarray(particles, dtype=float).ravel()
        if counts.size != n:
            raise ValueError(f"{n} truth labels but {counts.size} particle counts")
        if np.isnan(counts).any():
            rep.notes.append("particle counts missing for some classes: particle fractions skipped")
        else:
            rep.values.update(particle_fractions(t, p, counts))
    return rep
