"""Scores -> which classes to keep, each decision with its reason.

The rule is an absolute threshold on the calibrated score (``min_score``), optionally raised for one job
by a **job-relative bar** (``relative_gap``): a person judges a class beside the best classes of the
same job, so a class is kept only if its score is within ``relative_gap`` logits of the mean logit of
the job's best classes (:func:`best_classes`). With ``relative_detail`` the bar drops only classes that
are also that much coarser in spectral resolution than the best classes (the low-resolution blobs a
person rejects beside the sharp classes; a sharp rare view that scores lower is kept). The bar only
ever raises the threshold, and only in jobs whose best classes score at least ``relative_from``; a job
whose best classes are weak is judged by ``min_score`` alone (so a job of only junk keeps nothing by it).
Which threshold and gap a ``strictness`` setting means is part of the model
(:meth:`relion_cryodiscovery.model.card.ModelCard.operating_point`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import CryoDiscoveryError


#: The job's best classes: this fraction of its eligible classes by score, at least one, at most TOP_MAX.
TOP_FRACTION = 0.2
TOP_MAX = 5
_EPS = 1e-4


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def best_classes(scores: np.ndarray) -> np.ndarray:
    """Indices of the job's best classes by score (the reference of the job-relative bar)."""
    k = int(min(TOP_MAX, max(1, round(TOP_FRACTION * len(scores)))))
    return np.argsort(-np.asarray(scores, float), kind="stable")[:k]


def relative_bar(scores: np.ndarray, gap: float, active_from: float = 0.0) -> float:
    """The job-relative bar: ``sigmoid(mean logit of the best classes - gap)``; 0 (no bar) when there are
    no scores or when the best classes' mean logit is below ``logit(active_from)`` (a job without
    near-certain classes is judged by the absolute threshold alone)."""
    if len(scores) == 0:
        return 0.0
    best = float(_logit(np.asarray(scores)[best_classes(scores)]).mean())
    if active_from > 0 and best < float(_logit(np.array([active_from]))[0]):
        return 0.0
    return float(1.0 / (1.0 + np.exp(-(best - gap))))


@dataclass(frozen=True)
class SelectionRule:
    """The user's parameters (External-tab Params) and the model's operating point."""

    #: Keep classes whose calibrated P(good) is at least this.
    min_score: float
    #: Drop classes with fewer particles than this.
    min_particles: int = 0
    #: Keep at least this many classes (best scores first), even below ``min_score``.
    min_classes: int = 0
    #: Also require a score within this many logits of the job's best classes (None: ``min_score`` alone).
    relative_gap: float | None = None
    #: ... only in jobs whose best classes' mean calibrated score is at least this (0: always).
    relative_from: float = 0.0
    #: ... and only for classes whose spectral resolution (log10 k D) is this much below the best classes'
    #: median (None: every class below the bar).
    relative_detail: float | None = None
    #: Words for the reasons, e.g. "strictness strict".
    label: str = ""

    @classmethod
    def at(cls, point: dict, min_particles: int = 0, min_classes: int = 0, label: str = "") -> "SelectionRule":
        """The rule at a model's operating point (:meth:`~relion_cryodiscovery.model.card.ModelCard.operating_point`)."""
        return cls(point["min_score"], min_particles, min_classes, point.get("relative_gap"),
                   point.get("relative_from", 0.0), point.get("relative_detail"), label)

    def validate(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise CryoDiscoveryError(None, f"min_score must be between 0 and 1 (a probability), not {self.min_score}")
        if self.min_particles < 0:
            raise CryoDiscoveryError(None, f"min_particles must be 0 or more, not {self.min_particles}")
        if self.min_classes < 0:
            raise CryoDiscoveryError(None, f"min_classes must be 0 or more, not {self.min_classes}")
        if self.relative_gap is not None and not self.relative_gap > 0:
            raise CryoDiscoveryError(None, f"the job-relative gap must be positive, not {self.relative_gap}")
        if not 0.0 <= self.relative_from < 1.0:
            raise CryoDiscoveryError(None, f"the job-relative bar's activation must be in [0, 1), not {self.relative_from}")


@dataclass
class Selection:
    selected: np.ndarray  # (K,) bool
    reasons: list[str]  # (K,) why dropped ("" when kept) or why kept below the threshold
    #: The threshold this job was judged by: ``min_score``, or the job-relative bar when higher.
    threshold: float = 0.0


def select_classes(
    scores: np.ndarray,
    particle_counts: np.ndarray | None,
    problems: list[str],
    rule: SelectionRule,
    allow_empty: bool = False,
    resolution: np.ndarray | None = None,
) -> Selection:
    """Apply the rule. Classes with an unusable image or no particles are never kept.

    ``resolution``: each class's spectral resolution (log10 k D, NaN where unknown), for a rule with
    ``relative_detail``. An empty selection is an error (RELION cannot continue from it) unless
    ``allow_empty`` (scoring only).
    """
    rule.validate()
    k = len(scores)
    counts = particle_counts if particle_counts is not None else np.full(k, -1)
    reasons = [""] * k
    eligible = np.ones(k, dtype=bool)
    for i in range(k):
        if problems[i]:
            reasons[i], eligible[i] = f"empty image: {problems[i]}", False
        elif counts[i] == 0:
            reasons[i], eligible[i] = "no particles in this class", False
        elif 0 <= counts[i] < rule.min_particles:
            reasons[i], eligible[i] = f"too few particles ({counts[i]} < min_particles {rule.min_particles})", False
    threshold, why = rule.min_score, f"min_score {rule.min_score:.3f}"
    selected = eligible & (scores >= threshold)
    sharp = np.zeros(k, dtype=bool)  # below the bar but kept: as sharp as the job's best classes
    if rule.relative_gap is not None and eligible.any():
        bar = relative_bar(scores[eligible], rule.relative_gap, rule.relative_from)
        if bar > threshold:
            threshold = bar
            why = f"the job-relative bar {bar:.3f} ({rule.label or 'relative_gap'}: within {rule.relative_gap:g} logits of the job's best classes"
            below = scores < bar
            if rule.relative_detail is not None and resolution is not None:
                resolution = np.asarray(resolution, float)
                top = np.flatnonzero(eligible)[best_classes(scores[eligible])]
                reference = np.nanmedian(resolution[top]) if np.isfinite(resolution[top]).any() else np.nan
                coarser = resolution < reference - rule.relative_detail  # NaN compares False: never coarser
                sharp = selected & below & ~coarser
                below &= coarser
                why += f", or as sharp as them within {rule.relative_detail:g} in log10 k D"
            why += ")"
            selected &= ~below
    for i in np.flatnonzero(eligible & ~selected):
        reasons[i] = f"score {scores[i]:.3f} < {why}"
    for i in np.flatnonzero(sharp):
        reasons[i] = f"kept below the job-relative bar {threshold:.3f}: as sharp as the job's best classes (score {scores[i]:.3f})"
    if selected.sum() < rule.min_classes:
        order = [i for i in np.argsort(-scores, kind="stable") if eligible[i] and not selected[i]]
        for i in order[: rule.min_classes - int(selected.sum())]:
            selected[i] = True
            reasons[i] = f"kept by min_classes {rule.min_classes} (score {scores[i]:.3f})"
    if allow_empty and not selected.any():
        return Selection(selected=selected, reasons=reasons, threshold=threshold)
    if not eligible.any():
        raise CryoDiscoveryError(
            None, "no class is eligible (all are empty or have fewer than min_particles particles); lower min_particles"
        )
    if not selected.any():
        best = float(scores[eligible].max()) if eligible.any() else float("nan")
        raise CryoDiscoveryError(
            None,
            f"no class passed the selection (best score {best:.3f} < min_score {rule.min_score:g}); "
            "lower min_score or set min_classes to keep the N best classes (or choose strictness lenient)",
        )
    return Selection(selected=selected, reasons=reasons, threshold=threshold)
