"""The one per-class score table of a run, carried from the ensemble to every writer.

:class:`ClassScores` starts with the job's classes (numbers, particle counts) and unscored values,
takes the ensemble's arrays for the usable classes (:meth:`ClassScores.set_predictions`), then the
selection's decision and reasons (:meth:`ClassScores.set_decision`). ``run.out``, the score files,
the montage and the RELION outputs all read it; :meth:`ClassScores.table` is the row layout of
``cryodiscovery_scores.csv`` and of :func:`relion_cryodiscovery.score`'s DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas

#: Columns of ``cryodiscovery_scores.csv`` / ``.star`` and of :meth:`ClassScores.table`, in order.
SCORE_COLUMNS = ("class_number", "score", "selected", "p_d1", "p_d2", "p_d3", "d3_used", "particles", "reason")


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

    @classmethod
    def unscored(cls, class_numbers: np.ndarray, particles: np.ndarray | None) -> "ClassScores":
        """Every class unscored and not selected."""
        k = len(class_numbers)
        return cls(np.asarray(class_numbers), particles, np.zeros(k), np.zeros(k), np.full(k, np.nan),
                   np.zeros(k, dtype=bool), np.zeros(k), np.zeros(k, dtype=bool), [""] * k)

    def set_predictions(self, rows: np.ndarray, predictions: object) -> None:
        """The ensemble's outputs (``p_d1``, ``p_d2``, ``p_d3``, ``d3_used``, ``calibrated``) for classes ``rows``."""
        self.p_d1[rows], self.p_d2[rows], self.p_d3[rows] = predictions.p_d1, predictions.p_d2, predictions.p_d3
        self.d3_used[rows], self.score[rows] = predictions.d3_used, predictions.calibrated

    def set_decision(self, selected: np.ndarray, reasons: list[str]) -> None:
        """The selection's outcome."""
        self.selected, self.reasons = np.asarray(selected, dtype=bool), list(reasons)

    def table(self) -> "pandas.DataFrame":
        """The rows as a DataFrame with :data:`SCORE_COLUMNS` (``particles`` -1 when unknown, ``reason``
        "selected" for a class kept by its score)."""
        import pandas as pd

        particles = self.particles if self.particles is not None else np.full(len(self.score), -1)
        return pd.DataFrame(
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
            }
        )
