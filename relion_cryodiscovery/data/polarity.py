"""Contrast polarity of a job: is the protein white (RELION's convention) or dark?

A common mistake (contrast not inverted at extraction, or an export with the protein dark) turns every
class average negative. Metadata cannot tell; the pixels can. Each class's ``ring_1`` feature is the
mean of its central third (the particle's core) relative to the solvent just outside the particle,
in units of the in-particle spread (:func:`relion_cryodiscovery.data.spectral.spectral_measures`).
Averaged particles are denser than solvent, so the job's median is positive for protein-white classes
(measured: >= 0.58 on every simulated job drawn the right way up, 1.1-2.4 on every real set) and
negative when the contrast is inverted. Within :data:`UNDECIDED` of zero the job is scored as given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import FEATURE_NAMES, N_FEATURES

#: ``contrast`` parameter values: detect, or force either polarity.
CONTRAST_CHOICES: tuple[str, ...] = ("auto", "normal", "inverted")
#: |median ring_1| below this decides nothing (the job is scored as given).
UNDECIDED = 0.25

_RING_1 = FEATURE_NAMES.index("ring_1")


@dataclass(frozen=True)
class Polarity:
    """A job's contrast polarity and how it was decided."""

    #: True when the classes were scored with their contrast flipped (protein dark in the input).
    inverted: bool
    #: The job's median centre-over-solvent contrast (NaN when no class has the measure).
    statistic: float
    #: "detected", "undetermined" (scored as given) or "forced by contrast=..." (the parameter).
    how: str

    def summary(self) -> str:
        """One line for ``run.out``, the scores' provenance and the montage title."""
        state = "INVERTED (protein dark): scored with the contrast flipped" if self.inverted else "normal (protein white)"
        return f"{state}; {self.how}, median centre-over-solvent contrast {self.statistic:+.2f}"


def job_polarity(features: np.ndarray, usable: np.ndarray, contrast: str = "auto") -> Polarity:
    """The polarity of one job from its classes' feature rows (``contrast`` = auto, normal or inverted)."""
    if contrast not in CONTRAST_CHOICES:
        raise ValueError(f"contrast must be one of {', '.join(CONTRAST_CHOICES)}, not {contrast!r}")
    features = np.asarray(features, float)
    measured = np.asarray(usable, bool) & (features[:, N_FEATURES + _RING_1] < 0.5) if len(features) else np.zeros(0, bool)
    statistic = float(np.median(features[measured, _RING_1])) if measured.any() else float("nan")
    if contrast != "auto":
        return Polarity(contrast == "inverted", statistic, f"forced by contrast={contrast}")
    if not np.isfinite(statistic) or abs(statistic) < UNDECIDED:
        return Polarity(False, statistic, "undetermined (scored as given)")
    return Polarity(statistic < 0, statistic, "detected")
