"""The one per-class score table of a run, carried from the ensemble to every writer.

:class:`ClassScores` starts with the job's classes (numbers, particle counts) and unscored values,
takes the ensemble's arrays for the usable classes (:meth:`ClassScores.set_predictions`), then the
selection's decision and reasons (:meth:`ClassScores.set_decision`), with the reason model's junk kinds
(:meth:`ClassScores.set_junk_kinds`) and each class's grade, and, when asked, the kept classes' groups
(:meth:`ClassScores.set_groups`). ``run.out``, the score files,
the montage and the RELION outputs all read it; :meth:`ClassScores.table` is the row layout of
``cryodiscovery_scores.csv`` and of :func:`relion_cryodiscovery.score`'s DataFrame.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..model.reasons import grade

if TYPE_CHECKING:
    import pandas

#: Columns of ``cryodiscovery_scores.csv`` / ``.star`` and of :meth:`ClassScores.table`, in order.
SCORE_COLUMNS = ("class_number", "score", "selected", "p_d1", "p_d2", "p_d3", "d3_used", "particles", "reason",
                 "junk_kind", "junk_kind_probability", "grade")
#: The column added after :data:`SCORE_COLUMNS` when the kept classes are grouped (0: not kept).
GROUP_COLUMN = "group"
#: ``junk_kind`` of a kept class, or of a rejected class when the model has no reason model.
NO_KIND = "none"


@dataclass
class ClassScores:
    """One row per class: the ensemble's outputs and the decision (unusable classes score 0, p_d3 NaN)."""

    class_numbers: np.ndarray
    #: Particles per class; None when unknown (a bare stack).
    particles: np.ndarray | None
    p_d1: np.ndarray
    p_d2: np.ndarray
    #: NaN where d3 was not consulted.
    p_d3: np.ndarray
    d3_used: np.ndarray
    #: Calibrated P(good).
    score: np.ndarray
    selected: np.ndarray
    #: Why a class was dropped, or kept below the threshold; "" when kept by its score.
    reasons: list[str]
    #: The reason model's most likely junk kind per class ("" unknown) and its probability (NaN unknown).
    junk_kinds: list[str] = field(default_factory=list)
    junk_probabilities: np.ndarray | None = None
    #: A-F per class (:func:`relion_cryodiscovery.model.reasons.grade`), set with the decision.
    grades: list[str] = field(default_factory=list)
    #: Group 1..G of each kept class, 0 for the others; None when the classes were not grouped.
    groups: np.ndarray | None = None
    #: What the job-relative bars changed against ``min_score`` alone, for ``run.out``
    #: (:meth:`relion_cryodiscovery.selection.Selection.bar_summary`).
    decision_notes: list[str] = field(default_factory=list)
    #: The reason model's most likely kind per class whatever its probability ("" unknown), for ``run.out``'s
    #: hint beside an ``unclear`` kind.
    likely_kinds: list[str] = field(default_factory=list)

    @classmethod
    def unscored(cls, class_numbers: np.ndarray, particles: np.ndarray | None) -> "ClassScores":
        """Every class unscored and not selected."""
        k = len(class_numbers)
        return cls(np.asarray(class_numbers), particles, np.zeros(k), np.zeros(k), np.full(k, np.nan),
                   np.zeros(k, dtype=bool), np.zeros(k), np.zeros(k, dtype=bool), [""] * k, [""] * k,
                   np.full(k, np.nan), ["F"] * k, likely_kinds=[""] * k)

    def set_predictions(self, rows: np.ndarray, predictions: object) -> None:
        """The ensemble's outputs (``p_d1``, ``p_d2``, ``p_d3``, ``d3_used``, ``calibrated``) for classes ``rows``."""
        self.p_d1[rows], self.p_d2[rows], self.p_d3[rows] = predictions.p_d1, predictions.p_d2, predictions.p_d3
        self.d3_used[rows], self.score[rows] = predictions.d3_used, predictions.calibrated

    def set_junk_kinds(self, rows: np.ndarray, kinds: list[str], probabilities: np.ndarray,
                       likely: list[str]) -> None:
        """The reason model's junk kind as named (``unclear`` below its naming bar), the most likely kind
        whatever its probability (``likely``) and that kind's probability, for classes ``rows``."""
        for row, kind, guess in zip(np.asarray(rows), kinds, likely):
            self.junk_kinds[row], self.likely_kinds[row] = kind, guess
        self.junk_probabilities[rows] = probabilities

    def set_decision(self, selected: np.ndarray, reasons: list[str], eligible: np.ndarray | None = None) -> None:
        """The selection's outcome, and each class's grade (``eligible`` False: never keepable, graded F)."""
        self.selected, self.reasons = np.asarray(selected, dtype=bool), list(reasons)
        eligible = np.ones(len(self.selected), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
        self.grades = [grade(bool(s), float(p), kind, bool(e))
                       for s, p, kind, e in zip(self.selected, self.score, self.junk_kinds, eligible)]

    def set_groups(self, groups: np.ndarray) -> None:
        """The kept classes' groups (:func:`relion_cryodiscovery.data.grouping.group_classes`; 0 = not kept)."""
        self.groups = np.asarray(groups, dtype=int)

    def columns(self) -> tuple[str, ...]:
        """The columns of :meth:`table`: :data:`SCORE_COLUMNS`, then :data:`GROUP_COLUMN` when grouped."""
        return SCORE_COLUMNS + ((GROUP_COLUMN,) if self.groups is not None else ())

    def shown_kinds(self) -> list[str]:
        """The junk kind as the outputs show it: a rejected class's learned kind, else :data:`NO_KIND`."""
        return [kind if kind and not keep else NO_KIND for kind, keep in zip(self.junk_kinds, self.selected)]

    def rejection_summary(self) -> str:
        """``"rejected 31: 14 noise, 9 ice, 5 aggregate, 3 clipped or off-centre"`` (rule-only rejections,
        without a learned kind, are counted as ``by rule``)."""
        rejected = [kind for kind, keep in zip(self.shown_kinds(), self.selected) if not keep]
        if all(kind == NO_KIND for kind in rejected):  # no reason model: nothing to break down
            return f"rejected {len(rejected)}"
        counts = Counter("by rule" if kind == NO_KIND else kind for kind in rejected)
        parts = [f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
        return f"rejected {len(rejected)}" + (f": {', '.join(parts)}" if parts else "")

    def table(self) -> "pandas.DataFrame":
        """The rows as a DataFrame with :meth:`columns` (``particles`` -1 when unknown, ``reason``
        "selected" for a class kept by its score)."""
        import pandas as pd

        particles = self.particles if self.particles is not None else np.full(len(self.score), -1)
        table = pd.DataFrame(
            {
                "class_number": self.class_numbers.astype(int),
                "score": self.score.astype(float),
                "selected": self.selected.astype(int),
                "p_d1": self.p_d1.astype(float),
                "p_d2": self.p_d2.astype(float),
                "p_d3": self.p_d3.astype(float),
                "d3_used": self.d3_used.astype(int),
                "particles": particles.astype(int),
                "reason": [reason or "selected" for reason in self.reasons],
                "junk_kind": self.shown_kinds(),
                "junk_kind_probability": np.where(self.selected, np.nan, self.junk_probabilities).astype(float),
                "grade": list(self.grades),
            }
        )
        if self.groups is not None:
            table[GROUP_COLUMN] = self.groups
        return table
