"""Is a job a set of cryo-EM class averages like those the model was trained on? A job-level check.

Three signals, each a statistic of the whole job against a threshold from the model's reference; the
job is flagged when any of them exceeds its threshold (and when no class image is usable at all):

* **reconstruction** (models from 0.6.0): the fraction of each 64 px network view's energy (inside
  the view's circle, mean view removed) that the first :data:`COMPONENTS` principal components of
  the training views do not reconstruct; the job's value is the median over its classes. Class
  averages are smooth objects the basis spans (training jobs: median 0.06, at most ~0.3); noise,
  raw micrograph patches, checkerboards and text are not (0.5-0.8).
* **solvent** (models from 0.6.0): what lies outside the particle circle. Per view, the mean of two
  log10 ratios to the energy of the particle's core (radius :data:`CORE_RADIUS`): the energy in the
  solvent ring :data:`RING` and its fine detail there (the view minus a Gaussian blur of
  :data:`DETAIL_SIGMA_PX`); median over the classes. Class averages are masked or flat outside the
  particle (~ -2 to -5); full-field smooth junk (ice gradients) has energy but no detail there and
  unmasked noisy classes detail but little energy (both up to ~ -0.9); photographs, text,
  checkerboards, ramps and micrograph patches have both (-0.7 to 0).
* **features** (every model since 0.2.0; the only signal of older cards): the largest robust
  z-score of the job's median pixel-derived features (image statistics, spectral measures) against
  the training jobs'. A job of few classes has a noisier median: its spread adds the typical
  within-job spread of a class's value scaled as the variance of a median of ``n`` values
  (``pi / 2n``, at most 1). Flagged above ``MARGIN`` x the largest validation-job distance.

Thresholds of the view signals (:func:`fit_domain_reference`): the largest value over the held-out
validation jobs plus :data:`LOG_MARGIN` (a factor 1.5 in energy or odds). A job of fewer than
:data:`MIN_CLASSES` classes is judged against medians of as many good classes drawn from the
validation jobs (a job of one to four classes is a hand-picked set: references, templates, figure
panels), never below the whole-job threshold. The basis (mean view and components) is too large for
the card: it is stored beside it as :data:`REFERENCE_FILE` (numpy, no pickles), named with its
SHA-256 in ``extra["domain"]["views"]``.

The d1/d2 disagreement rate (classes where the two voting members fall on opposite sides of 0.5,
so d3 decides) is reported beside the signals but does not flag: it is high on some in-domain jobs
(boosting trains d2 on the hard half) and ~0 on non-cryo-EM inputs, which both members reject.

The module is split by purpose: what a job's classes measure (:mod:`.domain_measures`), the model's
reference, fitted, saved and loaded (:mod:`.domain_reference`), and here the check of one job; every name
is importable from here as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .domain_measures import (CORE_RADIUS, DETAIL_SIGMA_PX, DOMAIN_GROUPS, MIN_CLASSES, RING, VIEW_SIGNALS, ViewBasis,
                              domain_columns, job_descriptor, job_distance, job_signals, median_variance_factor,
                              view_measures)
from .domain_reference import (BASIS_VIEWS, COMPONENTS, FEW_CLASS_DRAWS, LOG_MARGIN, MARGIN, REFERENCE_FILE,
                               VIEW_REFERENCE_VERSION, DomainReference, ViewReference, attach_domain_reference,
                               fit_domain_reference, fit_feature_reference, fit_view_basis, fit_view_reference,
                               robust_spread, within_job_scale)

__all__ = [
    "ADVICE", "BASIS_VIEWS", "COMPONENTS", "CORE_RADIUS", "DETAIL_SIGMA_PX", "DOMAIN_GROUPS", "FEW_CLASS_DRAWS",
    "LOG_MARGIN", "MARGIN", "MIN_CLASSES", "REFERENCE_FILE", "RING", "VIEW_REFERENCE_VERSION", "VIEW_SIGNALS",
    "DomainCheck", "DomainReference", "Signal", "ViewBasis", "ViewReference", "attach_domain_reference", "check_job",
    "disagreement_rate", "domain_columns", "fit_domain_reference", "fit_feature_reference", "fit_view_basis",
    "fit_view_reference", "job_descriptor", "job_distance", "job_signals", "median_variance_factor", "robust_spread",
    "view_measures", "within_job_scale",
]

#: The warning run.out and the provenance add when a job is flagged.
ADVICE = ("this job looks unlike the classes the model was trained on: look at the montage and the scores "
          "before trusting the selection")

_MEANING = {
    "reconstruction": "fraction of the views' energy the training basis does not reconstruct",
    "solvent": "log10 energy and detail outside the particle circle vs its core",
    "features": "largest robust z of the job's pixel features vs the training jobs",
}


def disagreement_rate(p_d1: np.ndarray, p_d2: np.ndarray) -> float:
    """Fraction of the classes on which d1 and d2 fall on opposite sides of 0.5 (d3 decides them)."""
    return float(np.mean((np.asarray(p_d1) >= 0.5) != (np.asarray(p_d2) >= 0.5))) if len(p_d1) else 0.0


# --------------------------------------------------------------------------------------------
# The check of one job


@dataclass(frozen=True)
class Signal:
    """One signal of a job's check: its value against its threshold."""

    name: str
    value: float
    threshold: float

    @property
    def fired(self) -> bool:
        return bool(self.value > self.threshold)

    def text(self) -> str:
        relation = ">" if self.fired else "<="
        return f"{self.name} {self.value:.3g} ({relation} {self.threshold:.3g}: {_MEANING[self.name]})"


@dataclass
class DomainCheck:
    """The check of one job: the feature distance, the view signals (models from 0.6.0), the disagreement."""

    distance: float
    disagreement: float
    distance_threshold: float
    #: The view signals (empty for references without them).
    signals: tuple[Signal, ...] = ()
    #: Usable classes the check saw, and classes that could not be used (empty, constant, non-finite).
    n_classes: int = 0
    unusable: int = 0
    #: Why the view signals are missing although the model has them ("" otherwise).
    note: str = ""

    @property
    def no_usable_class(self) -> bool:
        return self.n_classes == 0 and self.unusable > 0

    @property
    def feature_signal(self) -> Signal:
        return Signal("features", self.distance, self.distance_threshold)

    @property
    def all_signals(self) -> tuple[Signal, ...]:
        """The view signals and the feature distance (where the reference has one)."""
        if self.no_usable_class:
            return ()
        return (*self.signals, self.feature_signal) if np.isfinite(self.distance_threshold) else self.signals

    @property
    def out_of_domain(self) -> bool:
        return self.no_usable_class or any(s.fired for s in self.all_signals)

    def summary(self) -> str:
        """One line: the state, the signals that fired first, each value against its threshold."""
        if self.no_usable_class:
            return f"OUT OF DOMAIN: none of the {self.unusable} class images is usable (empty, constant or non-finite)"
        state = "OUT OF DOMAIN" if self.out_of_domain else "in domain"
        signals = sorted(self.all_signals, key=lambda s: not s.fired)
        size = f" over {self.n_classes} classes" if self.n_classes else ""
        note = f"; {self.note}" if self.note else ""
        return (f"{state}: " + "; ".join(s.text() for s in signals)
                + f"; job medians{size}; d1/d2 disagreement {self.disagreement:.2f}{note}")

    def to_dict(self) -> dict:
        out = {"out_of_domain": self.out_of_domain, "distance": round(self.distance, 4),
               "disagreement": round(self.disagreement, 4), "distance_threshold": round(self.distance_threshold, 4)}
        if self.signals:
            out["signals"] = {s.name: {"value": round(s.value, 4), "threshold": round(s.threshold, 4), "fired": s.fired}
                              for s in self.signals}
            out["fired"] = [s.name for s in self.all_signals if s.fired]
        if self.n_classes or self.unusable:
            out.update({"classes": self.n_classes, "unusable": self.unusable})
        if self.note:
            out["note"] = self.note
        return out


def check_job(features: np.ndarray, p_d1: np.ndarray, p_d2: np.ndarray,
              reference: dict | DomainReference | None, images: np.ndarray | None = None,
              model_dir: str | Path | None = None, unusable: int = 0) -> DomainCheck | None:
    """The check of a job's usable classes against a model's reference (``None`` for models without one).

    ``reference`` is the card's ``extra["domain"]`` (read with its file in ``model_dir``) or a loaded
    :class:`DomainReference`; ``images`` are the classes' network views ``(K, V, 64, 64)`` (without them,
    the feature distance only); ``unusable`` counts the job's classes that could not be prepared.
    """
    if isinstance(reference, dict) or reference is None:
        reference = DomainReference.from_card(reference, model_dir)
    if reference is None or reference.features is None and reference.views is None:
        return None
    n = len(features)
    if n == 0:
        if not unusable:
            return None
        threshold = float((reference.features or {}).get("distance_threshold", 0.0))
        return DomainCheck(0.0, 0.0, threshold, n_classes=0, unusable=int(unusable))
    if reference.features:
        distance = job_distance(features, reference.features)
        threshold = float(reference.features["distance_threshold"])
    else:
        distance, threshold = 0.0, float("inf")
    disagreement = disagreement_rate(p_d1, p_d2) if n >= MIN_CLASSES else 0.0
    signals: tuple[Signal, ...] = ()
    note = reference.problem
    if reference.views is not None:
        views = None if images is None else np.asarray(images)
        if views is not None:  # unusable classes' views are all zero: not part of the job's signals
            views = views[np.abs(views.reshape(len(views), -1)).max(axis=1) > 0] if len(views) else views
        if views is None or not len(views):
            note = "view signals not computed (no views given)"
        else:
            values = job_signals(view_measures(views, reference.views.basis))
            signals = tuple(Signal(name, values[name], reference.views.threshold(name, n)) for name in VIEW_SIGNALS)
    return DomainCheck(distance, disagreement, threshold, signals, n, int(unusable), note)
