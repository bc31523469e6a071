"""Scores -> which classes to keep, each decision with its reason.

The rule is an absolute threshold on the calibrated score (``min_score``), optionally raised for one job
by a **job-relative bar** (``relative_gap``): a person judges a class beside the best classes of the
same job, so a class is kept only if its score is within ``relative_gap`` logits of the mean logit of
the job's best classes (:func:`best_classes`). The bar can be limited to classes that also *look* unlike
the best classes: coarser in spectral resolution by ``relative_detail`` (the featureless low-resolution
blobs a person rejects beside sharp classes) or emptier at the centre by ``relative_centre`` (the small
or off-centre blobs; with ``centre_detail``, only those also coarser by that much: a hollow or ring-like view
as sharp as the best is not a blob), or both coarser by ``blob_detail`` and denser at the centre by ``blob_centre`` (the
featureless blobs of a high-resolution job, their density heaped in the middle); a class as sharp and as
dense as the best, e.g. a rare view that scores lower, is kept. This bar only ever raises the threshold,
and only in jobs whose best classes score at least ``relative_from``.

The other way round, a **weak job** (an early round: small, coarse classes that all score low, though a
person keeps those that show the particle) may be judged by a lowered bar (``lower_gap``): in a job whose
best classes score below ``lower_below`` on average but at least ``lower_from``, a class below
``min_score`` is also kept when it scores within ``lower_gap`` logits of the best classes and looks like
them (as sharp and as dense at the centre, by the same margins). A job whose best classes score below
``lower_from`` (e.g. a job of only ice) is judged by ``min_score`` alone. Which threshold and bars a
``strictness`` setting means is part of the model
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


def best_mean_logit(scores: np.ndarray) -> float:
    """The mean logit of the job's best classes (:func:`best_classes`)."""
    return float(_logit(np.asarray(scores)[best_classes(scores)]).mean())


def relative_bar(scores: np.ndarray, gap: float, active_from: float = 0.0) -> float:
    """The job-relative bar: ``sigmoid(mean logit of the best classes - gap)``; 0 (no bar) when there are
    no scores or when the best classes' mean logit is below ``logit(active_from)`` (a job without
    near-certain classes is judged by the absolute threshold alone)."""
    if len(scores) == 0:
        return 0.0
    best = best_mean_logit(scores)
    if active_from > 0 and best < float(_logit(np.array([active_from]))[0]):
        return 0.0
    return float(1.0 / (1.0 + np.exp(-(best - gap))))


def lowered_bar(scores: np.ndarray, gap: float, below: float, active_from: float) -> float | None:
    """The weak job's lowered bar: ``sigmoid(mean logit of the best classes - gap)`` when their mean score
    lies in [``active_from``, ``below``); None otherwise (no scores, a strong job, or a job too weak to
    trust its best classes)."""
    if len(scores) == 0:
        return None
    best = best_mean_logit(scores)
    low, high = _logit(np.array([active_from, below]))
    if not low <= best < high:
        return None
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
    #: median, or (``relative_centre``) whose centre density (the ``ring_1`` feature, in units of the
    #: in-disc std) is this much below theirs. Both None: every class below the bar.
    relative_detail: float | None = None
    relative_centre: float | None = None
    #: ... or whose spectral resolution is ``blob_detail`` below theirs *and* whose centre density is
    #: ``blob_centre`` above theirs (a featureless blob). Either None: not compared.
    blob_detail: float | None = None
    blob_centre: float | None = None
    #: ... the centre measure (``relative_centre``) counts only for classes also ``centre_detail`` coarser than the
    #: best classes (None: for every class).
    centre_detail: float | None = None
    #: In a weak job (best classes' mean score in [``lower_from``, ``lower_below``)), also keep classes within
    #: this many logits of the best classes that look like them (None: no lowered bar).
    lower_gap: float | None = None
    lower_below: float = 0.5
    lower_from: float = 0.2
    #: Words for the reasons, e.g. "strictness strict".
    label: str = ""

    @classmethod
    def at(cls, point: dict, min_particles: int = 0, min_classes: int = 0, label: str = "") -> "SelectionRule":
        """The rule at a model's operating point (:meth:`~relion_cryodiscovery.model.card.ModelCard.operating_point`)."""
        return cls(point["min_score"], min_particles, min_classes, relative_gap=point.get("relative_gap"),
                   relative_from=point.get("relative_from", 0.0), relative_detail=point.get("relative_detail"),
                   relative_centre=point.get("relative_centre"), blob_detail=point.get("blob_detail"),
                   blob_centre=point.get("blob_centre"), centre_detail=point.get("centre_detail"),
                   lower_gap=point.get("lower_gap"), label=label,
                   **{k: point[k] for k in ("lower_below", "lower_from") if point.get(k) is not None})

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
        if self.lower_gap is not None and not self.lower_gap > 0:
            raise CryoDiscoveryError(None, f"the weak job's lowered bar gap must be positive, not {self.lower_gap}")
        if not 0.0 < self.lower_from <= self.lower_below < 1.0:
            raise CryoDiscoveryError(None, "the weak job's lowered bar needs 0 < lower_from <= lower_below < 1, not "
                                           f"{self.lower_from} and {self.lower_below}")
        for name in ("relative_detail", "relative_centre", "blob_detail", "blob_centre", "centre_detail"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise CryoDiscoveryError(None, f"the job-relative bar's {name} must be 0 or more, not {value}")

    @property
    def compares_looks(self) -> bool:
        """Whether the bar drops only classes that look unlike the best (``relative_detail``/``_centre``,
        ``blob_detail`` with ``blob_centre``)."""
        return self.relative_detail is not None or self.relative_centre is not None or self.compares_blobs

    @property
    def compares_blobs(self) -> bool:
        """Whether a class coarser *and* denser at the centre than the best counts as unlike them."""
        return self.blob_detail is not None and self.blob_centre is not None

    def describe_looks(self) -> str:
        """What "looks like the best classes" means, in words: ``as sharp (...) and as dense at the centre (...)``."""
        looks = []
        if self.relative_detail is not None:
            looks.append(f"as sharp (within {self.relative_detail:g} in log10 k D)")
        if self.relative_centre is not None:
            sharp = f" or as sharp within {self.centre_detail:g}" if self.centre_detail is not None else ""
            looks.append(f"as dense at the centre (within {self.relative_centre:g}{sharp})")
        if self.compares_blobs:
            looks.append(f"not a blob (coarser by {self.blob_detail:g} and denser at the centre by "
                         f"{self.blob_centre:g})")
        return " and ".join(looks)

    def looks_unlike(self, k: int, top: np.ndarray, resolution: np.ndarray | None,
                     centre: np.ndarray | None) -> np.ndarray:
        """(k,) bool: the classes that look unlike the best classes ``top`` by either measure the rule
        compares (:func:`unlike_best`; the centre only where also coarser by ``centre_detail``, so never without
        ``resolution``), or both coarser and denser at the centre (a blob); none when it compares none or no
        measure is given."""
        unlike = np.zeros(k, dtype=bool)
        coarser = unlike_best(resolution, top, self.relative_detail)
        if coarser is not None:
            unlike |= coarser
        emptier = unlike_best(centre, top, self.relative_centre)
        if emptier is not None:
            if self.centre_detail is not None:
                also_coarser = unlike_best(resolution, top, self.centre_detail)
                emptier &= also_coarser if also_coarser is not None else np.zeros(k, dtype=bool)
            unlike |= emptier
        if self.compares_blobs and resolution is not None and centre is not None:
            coarser = unlike_best(resolution, top, self.blob_detail)
            denser = unlike_best(-np.asarray(centre, float), top, self.blob_centre)  # above the best's centre
            unlike |= coarser & denser
        return unlike

    def describe_bar(self) -> str:
        """The bar in words, for the reasons: ``within 2 logits of the job's best classes, unless ...``."""
        words = f"within {self.relative_gap:g} logits of the job's best classes"
        return words + (f", unless {self.describe_looks()} as they are" if self.compares_looks else "")


@dataclass
class Selection:
    selected: np.ndarray  # (K,) bool
    reasons: list[str]  # (K,) why dropped ("" when kept) or why kept below the threshold
    #: The threshold this job was judged by: ``min_score``, or the job-relative bar when higher.
    threshold: float = 0.0
    #: (K,) bool: False for classes never kept (an unusable image, no or too few particles).
    eligible: np.ndarray | None = None
    #: (K,) bool: classes at or above ``min_score`` that the job-relative bar dropped.
    dropped_by_bar: np.ndarray | None = None
    #: (K,) bool: classes below ``min_score`` that a weak job's lowered bar kept.
    kept_by_lowered_bar: np.ndarray | None = None

    def bar_summary(self, class_numbers: np.ndarray, min_score: float, most: int = 12) -> list[str]:
        """What the job-relative bars changed against ``min_score`` alone, a line each (none when nothing):
        ``"the job-relative bar dropped 3 classes scoring at least min_score 0.177 (classes 4, 9, 12): ..."``."""
        lines = []
        for marks, words in (
            (self.dropped_by_bar, "the job-relative bar dropped {n} {classes} scoring at least min_score {t:.3f} "
                                  "({listed}): below the job's best classes and unlike them; strictness lenient "
                                  "judges by its min_score alone"),
            (self.kept_by_lowered_bar, "a weak job's lowered bar kept {n} {classes} scoring below min_score {t:.3f} "
                                       "({listed}): close to the job's best classes and like them"),
        ):
            if marks is None or not marks.any():
                continue
            numbers = [int(c) for c in np.asarray(class_numbers)[np.asarray(marks, bool)]]
            noun = "class" if len(numbers) == 1 else "classes"
            listed = f"{noun} " + ", ".join(map(str, numbers[:most])) + (", ..." if len(numbers) > most else "")
            lines.append(words.format(n=len(numbers), classes=noun, t=min_score, listed=listed))
        return lines


def unlike_best(values: np.ndarray | None, top: np.ndarray, margin: float | None) -> np.ndarray | None:
    """Classes whose ``values`` are more than ``margin`` below the median of the best classes ``top``
    (None when the rule does not compare this measure); a NaN value never counts as unlike."""
    if margin is None or values is None:
        return None
    values = np.asarray(values, float)
    reference = np.nanmedian(values[top]) if np.isfinite(values[top]).any() else np.nan
    return values < reference - margin  # NaN compares False


def select_classes(
    scores: np.ndarray,
    particle_counts: np.ndarray | None,
    problems: list[str],
    rule: SelectionRule,
    allow_empty: bool = False,
    resolution: np.ndarray | None = None,
    centre: np.ndarray | None = None,
) -> Selection:
    """Apply the rule. Classes with an unusable image or no particles are never kept.

    ``resolution`` and ``centre``: each class's spectral resolution (log10 k D) and centre density (the
    ``ring_1`` feature), NaN where unknown, for a rule with ``relative_detail``/``relative_centre``; a
    measure not given never marks a class as unlike the best. An empty selection is an error (RELION
    cannot continue from it) unless ``allow_empty`` (scoring only).
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
    alike = np.zeros(k, dtype=bool)  # below the bar but kept: they look like the job's best classes
    lowered = np.zeros(k, dtype=bool)  # below min_score but kept by a weak job's lowered bar
    top = np.flatnonzero(eligible)[best_classes(scores[eligible])] if eligible.any() else np.array([], int)
    if rule.relative_gap is not None and eligible.any():
        bar = relative_bar(scores[eligible], rule.relative_gap, rule.relative_from)
        if bar > threshold:
            threshold = bar
            why = f"the job-relative bar {bar:.3f} ({rule.label or 'relative_gap'}: {rule.describe_bar()})"
            below = scores < bar
            if rule.compares_looks:
                unlike = rule.looks_unlike(k, top, resolution, centre)
                alike = selected & below & ~unlike
                below &= unlike
            selected &= ~below
    if rule.lower_gap is not None and eligible.any():
        low = lowered_bar(scores[eligible], rule.lower_gap, rule.lower_below, rule.lower_from)
        if low is not None and low < threshold:
            lowered = eligible & ~selected & (scores >= low) & ~rule.looks_unlike(k, top, resolution, centre)
            selected |= lowered
    for i in np.flatnonzero(eligible & ~selected):
        reasons[i] = f"score {scores[i]:.3f} < {why}"
    for i in np.flatnonzero(alike):
        reasons[i] = (f"kept below the job-relative bar {threshold:.3f}: {rule.describe_looks()} as the job's "
                      f"best classes (score {scores[i]:.3f})")
    for i in np.flatnonzero(lowered):
        looks = f" and {rule.describe_looks()} as they are" if rule.compares_looks else ""
        reasons[i] = (f"kept below {why}: a weak job (its best classes score below {rule.lower_below:g}); within "
                      f"{rule.lower_gap:g} logits of them{looks} (score {scores[i]:.3f})")
    if selected.sum() < rule.min_classes:
        order = [i for i in np.argsort(-scores, kind="stable") if eligible[i] and not selected[i]]
        for i in order[: rule.min_classes - int(selected.sum())]:
            selected[i] = True
            reasons[i] = f"kept by min_classes {rule.min_classes} (score {scores[i]:.3f})"
    dropped_by_bar = eligible & (scores >= rule.min_score) & ~selected
    if allow_empty and not selected.any():
        return Selection(selected=selected, reasons=reasons, threshold=threshold, eligible=eligible,
                         dropped_by_bar=dropped_by_bar, kept_by_lowered_bar=lowered)
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
    return Selection(selected=selected, reasons=reasons, threshold=threshold, eligible=eligible,
                     dropped_by_bar=dropped_by_bar, kept_by_lowered_bar=lowered)
