"""Raw ensemble score -> calibrated probability and the shipped threshold.

The calibration error and the other validation metrics are in :mod:`relion_cryodiscovery.evaluation.metrics`.

Calibration is Platt scaling on the logit of the raw score::

    calibrated = sigmoid(a * logit(raw) + b),   a > 0 (ranking is never inverted)

fitted by maximum likelihood on held-out (validation) classes with Platt's smoothed targets.
``a`` and ``b`` are stored as plain numbers in ``model_card.json``. With fewer than
:data:`MIN_PER_CLASS` good or bad validation classes the identity (a=1, b=0) is stored.

Threshold rule (:func:`choose_threshold`): the largest threshold ``t`` such that at most
``max_fnr`` (2%) of the good validation classes score below ``t``, or 0.5, whichever is lower.
A class is selected when its calibrated score is ``>= t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fewer good (or bad) validation classes than this: store the identity calibration.
MIN_PER_CLASS = 5
_EPS = 1e-6

THRESHOLD_RULE = (
    "largest t with false-negative rate of good validation classes (calibrated score < t) <= {max_fnr:g}, "
    "capped at {cap:g}; select when calibrated score >= t"
)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class PlattCalibration:
    """``sigmoid(a * logit(raw) + b)``."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        out = _sigmoid(self.a * _logit(raw) + self.b)
        return np.where(np.isfinite(raw), out, np.nan).astype(np.float32)

    def to_dict(self) -> dict:
        return {"method": "platt", "a": float(self.a), "b": float(self.b), "input": "logit(raw score)"}

    @classmethod
    def from_dict(cls, values: dict) -> "PlattCalibration":
        if values.get("method") != "platt":
            raise ValueError(f"unknown calibration method {values.get('method')!r}")
        return cls(float(values["a"]), float(values["b"]))


def fit_platt(raw: np.ndarray, labels: np.ndarray) -> PlattCalibration:
    """Fit Platt scaling on validation raw scores and 0/1 labels (deterministic L-BFGS-B)."""
    raw = np.asarray(raw, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_good, n_bad = int(labels.sum()), int((~labels).sum())
    if n_good < MIN_PER_CLASS or n_bad < MIN_PER_CLASS:
        return PlattCalibration()
    x = _logit(raw)
    target = np.where(labels, (n_good + 1.0) / (n_good + 2.0), 1.0 / (n_bad + 2.0))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] * x + params[1]
        p = np.clip(_sigmoid(z), 1e-12, 1 - 1e-12)
        nll = -np.sum(target * np.log(p) + (1 - target) * np.log(1 - p))
        residual = p - target
        return float(nll), np.array([np.sum(residual * x), np.sum(residual)])

    from scipy.optimize import minimize  # here, not at import: scoring never fits (~0.4 s of the model worker's start)

    result = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B",
                      bounds=[(1e-3, 100.0), (-50.0, 50.0)])
    return PlattCalibration(float(result.x[0]), float(result.x[1]))


def choose_threshold(
    calibrated: np.ndarray, labels: np.ndarray, max_fnr: float = 0.02, cap: float = 0.5
) -> float:
    """Shipped threshold (see module docstring); ``cap`` when there are no good classes."""
    good = np.sort(np.asarray(calibrated, dtype=np.float64)[np.asarray(labels).astype(bool)])
    if len(good) == 0:
        return float(cap)
    allowed_misses = int(np.floor(max_fnr * len(good) + 1e-9))
    return float(min(cap, good[allowed_misses]))


#: The strictness settings' defaults (:func:`operating_points`): lenient's bound on good classes lost;
#: the job-relative bar of ``balanced`` and ``strict``: its gap in logits, the best classes' mean score it
#: starts from, and how unlike the best classes a class must look to be dropped by it (:class:`Looks`): coarser
#: in spectral resolution (log10 k D; 0.25 is 1.8 times the best classes' resolution in Angstrom), emptier at the
#: centre (``ring_1``) while also coarser by ``CENTRE_DETAIL`` (a small or off-centre blob; a hollow or ring-like view
#: as sharp as the best is not unlike them), or both coarser and denser at the centre (a featureless blob).
#: Chosen on the real sets first (docs/model_card_notes.md, "0.7.0", "0.8.0" and "0.8.1").
LENIENT_FNR = 0.02
BAR_GAP = 2.0
BAR_FROM = 0.95
BALANCED_DETAIL = 0.25
BALANCED_CENTRE = 0.4
STRICT_DETAIL = 0.15
STRICT_CENTRE = 0.3
BLOB_DETAIL = 0.15
BLOB_CENTRE = 0.2
CENTRE_DETAIL = 0.1
#: A weak job's lowered bar (``lenient`` and ``balanced``): in a job whose best classes score in
#: [LOWER_FROM, LOWER_BELOW) on average, classes within LOWER_GAP logits of them that look like them (balanced's
#: margins) are kept below ``min_score``. Chosen on simulated early-round jobs, junk-only and ice-only jobs and the
#: real sets (docs/model_card_notes.md, "0.8.0").
LOWER_GAP = 2.0
LOWER_BELOW = 0.5
LOWER_FROM = 0.2


@dataclass(frozen=True)
class Looks:
    """How unlike a job's best classes a class must look (:class:`relion_cryodiscovery.selection.SelectionRule`'s
    ``relative_detail``, ``relative_centre``, ``blob_detail``, ``blob_centre``, ``centre_detail``; None: not
    compared)."""

    detail: float | None
    centre: float | None
    blob_detail: float | None = None
    blob_centre: float | None = None
    #: The centre measure counts only for classes also this much coarser than the best (None: for every class).
    centre_detail: float | None = None

    def fields(self) -> dict:
        return {"relative_detail": self.detail, "relative_centre": self.centre, "blob_detail": self.blob_detail,
                "blob_centre": self.blob_centre, "centre_detail": self.centre_detail}

    def words(self) -> list[str]:
        """What looking like the best classes means, in words."""
        out = []
        if self.detail is not None:
            out.append(f"as sharp (spectral resolution within {self.detail} in log10 k D)")
        if self.centre is not None:
            sharp = f" or as sharp within {self.centre_detail}" if self.centre_detail is not None else ""
            out.append(f"as dense at the centre (ring_1 within {self.centre}{sharp})")
        if self.blob_detail is not None and self.blob_centre is not None:
            out.append(f"not a blob (coarser by {self.blob_detail} and denser at the centre by {self.blob_centre})")
        return out


BALANCED_LOOKS = Looks(BALANCED_DETAIL, BALANCED_CENTRE, BLOB_DETAIL, BLOB_CENTRE, CENTRE_DETAIL)
STRICT_LOOKS = Looks(STRICT_DETAIL, STRICT_CENTRE, BLOB_DETAIL, BLOB_CENTRE, CENTRE_DETAIL)


def job_relative_bar(gap: float, start: float, looks: Looks) -> dict:
    """One operating point's job-relative bar (:class:`relion_cryodiscovery.selection.SelectionRule`'s fields)
    with its rule in words."""
    words = looks.words()
    unless = f" unless it is {' and '.join(words)} as they are" if words else ""
    return {"relative_gap": gap, "relative_from": start, **looks.fields(),
            "bar_rule": f"in a job whose best classes score >= {start:g} on average, a class must also score within "
                        f"{gap:g} logits of them{unless}"}


def weak_job_lowering(gap: float | None, below: float, start: float, looks: Looks) -> dict:
    """One operating point's lowered bar for weak jobs (:func:`relion_cryodiscovery.selection.lowered_bar`), with
    its rule in words (only ``lower_gap`` None when ``gap`` is None)."""
    if gap is None:
        return {"lower_gap": None}
    words = looks.words()
    alike = f" and {' and '.join(words)} as they are" if words else ""
    return {"lower_gap": gap, "lower_below": below, "lower_from": start, **looks.fields(),
            "lower_rule": f"in a job whose best classes score in [{start:g}, {below:g}) on average, a class within "
                          f"{gap:g} logits of them{alike} is kept below min_score"}


def operating_points(calibrated: np.ndarray, labels: np.ndarray, threshold: float, threshold_rule: str,
                     lenient_fnr: float = LENIENT_FNR, gap: float = BAR_GAP, start: float = BAR_FROM,
                     balanced: Looks = BALANCED_LOOKS, strict: Looks = STRICT_LOOKS,
                     lower: tuple[float | None, float, float] = (LOWER_GAP, LOWER_BELOW, LOWER_FROM)) -> dict:
    """The ``strictness`` settings of a model (its card's ``extra["decision"]``) from validation scores:
    ``lenient`` at most ``lenient_fnr`` of the good validation classes lost, no bar; ``balanced`` the
    calibrated ``threshold`` and the job-relative bar (:func:`relion_cryodiscovery.selection.relative_bar`)
    for classes that look unlike the job's best by ``balanced``; ``strict`` the same bar with the looks
    ``strict``. ``lenient`` and ``balanced`` also lower the threshold in a weak job (``lower``: gap, below,
    from; gap None: no lowering) for classes that look like its best by balanced's looks."""
    lenient = choose_threshold(calibrated, labels, max_fnr=lenient_fnr, cap=float(threshold))
    lowering = weak_job_lowering(lower[0], lower[1], lower[2], balanced)
    lower_words = f"; {lowering['lower_rule']}" if lowering.get("lower_rule") else ""
    points = {
        "lenient": {"min_score": lenient, "relative_gap": None,
                    **{k: v for k, v in lowering.items() if k != "lower_rule"},
                    "rule": f"at most {lenient_fnr:g} of the good validation classes below it ({len(labels)} classes)"
                            + lower_words},
    }
    for level, looks in (("balanced", balanced), ("strict", strict)):
        bar = job_relative_bar(gap, start, looks)
        weak = lowering if level == "balanced" else {"lower_gap": None}
        points[level] = {"min_score": float(threshold), **{k: v for k, v in weak.items() if k != "lower_rule"},
                         **{k: v for k, v in bar.items() if k != "bar_rule"},
                         "rule": f"{threshold_rule}; {bar['bar_rule']}" + (lower_words if level == "balanced" else "")}
    return {
        **points,
        "default": "balanced",
    }
