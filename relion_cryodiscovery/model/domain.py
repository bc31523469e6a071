"""Is a job like the data the model was trained on? A job-level out-of-distribution check.

Each job is described by the median over its classes of every pixel-derived feature (image
statistics and spectral measures; never metadata, which may be missing). The reference is the
median and robust spread (1.4826 x MAD, at least the 10-90% range / 2.563) of those job descriptors over the training jobs; a job's
**distance** is its largest robust z-score over the descriptors (so one far-off property, such as
classes sharper or more finely sampled than anything in training, is enough). A job of few classes has
a noisier median: its spread adds the typical within-job spread of a class's value, scaled as the
variance of a median of ``n`` values (``pi / 2n``, at most 1), so a single good class is not judged
against the medians of whole jobs as if it were one. A job is flagged
when its distance exceeds ``MARGIN`` x the largest distance among the validation jobs (jobs the
model was not fitted on).

The d1/d2 disagreement rate (classes where the two voting members fall on opposite sides of 0.5,
so d3 decides) is reported beside it but does not flag: boosting trains d2 on the hard half, so
its disagreement with d1 is high on some in-domain jobs (docs/model_card.md has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.features import FEATURE_GROUPS, FEATURE_NAMES

#: Feature groups the distance uses: computable from the pixels alone.
DOMAIN_GROUPS: tuple[str, ...] = ("image", "spectral")
#: Flag above this multiple of the largest validation-job distance.
MARGIN = 1.1
#: Jobs with fewer classes than this give no disagreement rate of their own (too noisy).
MIN_CLASSES = 5
ADVICE = ("this job looks unlike the classes the model was trained on: look at the montage and the scores "
          "before trusting the selection")


def domain_columns(feature_names=FEATURE_NAMES) -> np.ndarray:
    """Indices of the pixel-derived feature values in a feature row."""
    groups = dict(zip(FEATURE_NAMES, FEATURE_GROUPS))
    return np.array([i for i, name in enumerate(feature_names) if groups.get(name) in DOMAIN_GROUPS], int)


def job_descriptor(features: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Median over a job's classes of each pixel-derived feature."""
    return np.median(np.asarray(features, float)[:, columns], axis=0)


def median_variance_factor(n_classes: int) -> float:
    """Variance of the median of ``n`` values in units of one value's variance (``pi / 2n``, at most 1)."""
    return min(1.0, np.pi / (2.0 * max(int(n_classes), 1)))


def job_distance(features: np.ndarray, reference: dict) -> float:
    """Largest robust z-score of the job's descriptor against the training jobs'.

    References with a ``within_scale`` (models from 0.5.1) widen the spread for jobs of few classes.
    """
    columns = np.asarray(reference["columns"], int)
    scale = np.asarray(reference["scale"], float)
    if "within_scale" in reference:
        within = np.asarray(reference["within_scale"], float)
        scale = np.sqrt(scale**2 + within**2 * median_variance_factor(len(features)))
    z = (job_descriptor(features, columns) - np.asarray(reference["median"])) / scale
    return float(np.max(np.abs(z)))


def robust_spread(values: np.ndarray) -> np.ndarray:
    """Per column: 1.4826 x MAD, at least the 10-90% range / 2.563 (a normal's sigma), so a measure whose
    values mostly coincide (~0 for masked classes) or whose good classes form a tail is not a hair trigger."""
    mad = 1.4826 * np.median(np.abs(values - np.median(values, axis=0)), axis=0)
    q10, q90 = np.quantile(values, [0.1, 0.9], axis=0)
    return np.maximum(mad, (q90 - q10) / 2.563)


def within_job_scale(jobs: list[np.ndarray], columns: np.ndarray) -> np.ndarray:
    """The typical spread of one class's value around its job's median (median over jobs)."""
    spreads = [robust_spread(f[:, columns]) for f in jobs if len(f) >= MIN_CLASSES]
    return np.median(np.array(spreads), axis=0) if spreads else np.zeros(len(columns))


def disagreement_rate(p_d1: np.ndarray, p_d2: np.ndarray) -> float:
    return float(np.mean((np.asarray(p_d1) >= 0.5) != (np.asarray(p_d2) >= 0.5))) if len(p_d1) else 0.0


def _by_job(features: np.ndarray, groups: np.ndarray) -> list[np.ndarray]:
    groups = np.asarray(groups)
    return [features[groups == g] for g in np.unique(groups)]


def fit_domain_reference(train_features: np.ndarray, train_groups: np.ndarray, val_features: np.ndarray,
                         val_groups: np.ndarray, feature_names=FEATURE_NAMES) -> dict:
    """Reference statistics from the training jobs, the threshold from the validation jobs."""
    columns = domain_columns(feature_names)
    train_jobs = [np.asarray(f, float) for f in _by_job(train_features, train_groups)]
    train = np.array([job_descriptor(f, columns) for f in train_jobs])
    median = np.median(train, axis=0)
    scale = robust_spread(train)
    scale = np.where(scale > 1e-6, scale, np.maximum(train.std(axis=0), 1e-3))
    reference = {"columns": columns.tolist(), "names": [feature_names[i] for i in columns],
                 "median": median.tolist(), "scale": scale.tolist(),
                 "within_scale": within_job_scale(train_jobs, columns).tolist(), "margin": MARGIN,
                 "training_jobs": len(train)}
    distances = np.array([job_distance(f, reference) for f in _by_job(val_features, val_groups)])
    reference.update({
        "distance_threshold": float(MARGIN * distances.max()),
        "validation_jobs": int(len(distances)),
        "validation_distance_quantiles": [float(x) for x in np.quantile(distances, [0.5, 0.9, 0.99, 1.0])],
    })
    return reference


@dataclass
class DomainCheck:
    """The check of one job."""

    distance: float
    disagreement: float
    distance_threshold: float

    @property
    def out_of_domain(self) -> bool:
        return self.distance > self.distance_threshold

    def summary(self) -> str:
        state = "OUT OF DOMAIN" if self.out_of_domain else "in domain"
        return (f"{state}: feature distance to the training classes {self.distance:.2f} "
                f"(largest robust z of the job's pixel features; flag > {self.distance_threshold:.2f}); "
                f"d1/d2 disagreement {self.disagreement:.2f}")

    def to_dict(self) -> dict:
        return {"out_of_domain": self.out_of_domain, "distance": round(self.distance, 4),
                "disagreement": round(self.disagreement, 4), "distance_threshold": round(self.distance_threshold, 4)}


def check_job(features: np.ndarray, p_d1: np.ndarray, p_d2: np.ndarray, reference: dict | None) -> DomainCheck | None:
    """The job's check against a model's reference (``None`` for models trained without one)."""
    if not reference or len(features) == 0:
        return None
    distance = job_distance(features, reference)
    disagreement = disagreement_rate(p_d1, p_d2) if len(features) >= MIN_CLASSES else 0.0
    return DomainCheck(distance, disagreement, float(reference["distance_threshold"]))
