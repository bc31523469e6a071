"""Is a job like the data the model was trained on? A job-level out-of-distribution check.

The signal is a **feature distance**: every class's image and spectral features (never its
metadata, which may be missing) as robust z-scores against the training classes (median and
1.4826 x MAD, each clipped at ``Z_CLIP``); a class's distance is their root mean square and the
job's distance the median over its classes. A job is flagged when its distance exceeds
``MARGIN`` x the largest distance among the validation jobs (jobs the model was not fitted on).

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
Z_CLIP = 5.0
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


def class_distances(features: np.ndarray, reference: dict) -> np.ndarray:
    """RMS robust z-distance of every class (rows of ``features``) from the training classes."""
    columns = np.asarray(reference["columns"], int)
    centre = np.asarray(reference["median"], float)
    scale = np.asarray(reference["scale"], float)
    z = np.clip((np.asarray(features, float)[:, columns] - centre) / scale, -Z_CLIP, Z_CLIP)
    return np.sqrt((z**2).mean(axis=1))


def disagreement_rate(p_d1: np.ndarray, p_d2: np.ndarray) -> float:
    return float(np.mean((np.asarray(p_d1) >= 0.5) != (np.asarray(p_d2) >= 0.5))) if len(p_d1) else 0.0


def _per_job(values: np.ndarray, groups: np.ndarray, reducer) -> np.ndarray:
    return np.array([reducer(values[groups == g]) for g in np.unique(groups) if (groups == g).sum() >= MIN_CLASSES])


def fit_domain_reference(train_features: np.ndarray, val_features: np.ndarray, val_groups: np.ndarray,
                         feature_names=FEATURE_NAMES) -> dict:
    """Reference statistics from the training classes, the threshold from the validation jobs."""
    columns = domain_columns(feature_names)
    values = np.asarray(train_features, float)[:, columns]
    median = np.median(values, axis=0)
    scale = 1.4826 * np.median(np.abs(values - median), axis=0)
    scale = np.where(scale > 1e-6, scale, np.maximum(values.std(axis=0), 1e-3))
    reference = {"columns": columns.tolist(), "names": [feature_names[i] for i in columns],
                 "median": median.tolist(), "scale": scale.tolist(), "z_clip": Z_CLIP, "margin": MARGIN}
    distances = class_distances(val_features, reference)
    job_distance = _per_job(distances, np.asarray(val_groups), np.median)
    reference.update({
        "distance_threshold": float(MARGIN * job_distance.max()),
        "validation_jobs": int(len(job_distance)),
        "validation_distance_quantiles": [float(x) for x in np.quantile(job_distance, [0.5, 0.9, 0.99, 1.0])],
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
                f"(flag > {self.distance_threshold:.2f}); d1/d2 disagreement {self.disagreement:.2f}")

    def to_dict(self) -> dict:
        return {"out_of_domain": self.out_of_domain, "distance": round(self.distance, 4),
                "disagreement": round(self.disagreement, 4), "distance_threshold": round(self.distance_threshold, 4)}


def check_job(features: np.ndarray, p_d1: np.ndarray, p_d2: np.ndarray, reference: dict | None) -> DomainCheck | None:
    """The job's check against a model's reference (``None`` for models trained without one)."""
    if not reference or len(features) == 0:
        return None
    distance = float(np.median(class_distances(features, reference)))
    disagreement = disagreement_rate(p_d1, p_d2) if len(features) >= MIN_CLASSES else 0.0
    return DomainCheck(distance, disagreement, float(reference["distance_threshold"]))
