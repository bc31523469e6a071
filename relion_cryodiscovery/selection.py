"""Scores -> which classes to keep, each decision with its reason."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import CryoDiscoveryError


@dataclass(frozen=True)
class SelectionRule:
    """The user's parameters (External-tab Params)."""

    #: Keep classes whose calibrated P(good) is at least this.
    min_score: float
    #: Drop classes with fewer particles than this.
    min_particles: int = 0
    #: Keep at least this many classes (best scores first), even below ``min_score``.
    min_classes: int = 0

    def validate(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise CryoDiscoveryError(None, f"min_score must be between 0 and 1 (a probability), not {self.min_score}")
        if self.min_particles < 0:
            raise CryoDiscoveryError(None, f"min_particles must be 0 or more, not {self.min_particles}")
        if self.min_classes < 0:
            raise CryoDiscoveryError(None, f"min_classes must be 0 or more, not {self.min_classes}")


@dataclass
class Selection:
    selected: np.ndarray  # (K,) bool
    reasons: list[str]  # (K,) why dropped ("" when kept) or why kept below the threshold


def select_classes(
    scores: np.ndarray,
    particle_counts: np.ndarray | None,
    problems: list[str],
    rule: SelectionRule,
    allow_empty: bool = False,
) -> Selection:
    """Apply the rule. Classes with an unusable image or no particles are never kept.

    An empty selection is an error (RELION cannot continue from it) unless ``allow_empty``
    (scoring only).
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
    selected = eligible & (scores >= rule.min_score)
    for i in np.flatnonzero(eligible & ~selected):
        reasons[i] = f"score {scores[i]:.3f} < min_score {rule.min_score:.3f}"
    if selected.sum() < rule.min_classes:
        order = [i for i in np.argsort(-scores, kind="stable") if eligible[i] and not selected[i]]
        for i in order[: rule.min_classes - int(selected.sum())]:
            selected[i] = True
            reasons[i] = f"kept by min_classes {rule.min_classes} (score {scores[i]:.3f})"
    if allow_empty and not selected.any():
        return Selection(selected=selected, reasons=reasons)
    if not eligible.any():
        raise CryoDiscoveryError(
            None, "no class is eligible (all are empty or have fewer than min_particles particles); lower min_particles"
        )
    if not selected.any():
        best = float(scores[eligible].max()) if eligible.any() else float("nan")
        raise CryoDiscoveryError(
            None,
            f"no class passed the selection (best score {best:.3f} < min_score {rule.min_score:g}); "
            "lower min_score or set min_classes to keep the N best classes",
        )
    return Selection(selected=selected, reasons=reasons)
