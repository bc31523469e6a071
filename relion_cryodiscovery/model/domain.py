"""Is a job like the data the model was trained on? A job-level out-of-distribution check.

Two signals, each measured against the model's own training jobs and stored in the model card
(``extra["domain"]``) when the model is trained:

* **Feature distance**: every class's image and spectral features (never its metadata, which may
  be missing) as robust z-scores against the training classes (median, 1.4826 x MAD, each clipped at
  ``Z_CLIP``); the class distance is their root mean square and the job's distance the median over
  its classes.
* **d1/d2 disagreement**: the fraction of the job's classes on which the two voting members
  disagree at 0.5 (d3 then decides). A model outside its domain tends to split its members.

A job is flagged when either signal exceeds its threshold: the ``QUANTILE`` quantile of the
same signal over the validation jobs (so about 1% of training-like jobs are flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.features import FEATURE_GROUPS, FEATURE_NAMES

#: Feature groups the distance uses: computable from the pixels alone.
DOMAIN_GROUPS: tuple[str, ...] = ("image", "spectral")
Z_CLIP = 10.0
QUANTILE = 0.99
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


def fit_domain_reference(train, val, ensemble, batch_size: int = 256) -> dict:
    """Reference statistics from the training arrays, thresholds from the validation jobs
    (``TrainingArrays``; jobs the members were not fitted on, as a new in-domain job is)."""
    columns = domain_columns(ensemble.card.feature_names[: len(ensemble.card.feature_names)])
    values = np.asarray(train.features, float)[:, columns]
    median = np.median(values, axis=0)
    scale = 1.4826 * np.median(np.abs(values - median), axis=0)
    scale = np.where(scale > 1e-6, scale, np.maximum(values.std(axis=0), 1e-3))
    reference = {"columns": columns.tolist(), "names": [ensemble.card.feature_names[i] for i in columns],
                 "median": median.tolist(), "scale": scale.tolist(), "quantile": QUANTILE}
    distances = class_distances(val.features, reference)
    job_distance = _per_job(distances, val.groups, np.median)
    scores = ensemble.predict(val.images, val.features, batch_size=batch_size)
    split = (scores.p_d1 >= 0.5) != (scores.p_d2 >= 0.5)
    job_split = _per_job(split.astype(float), val.groups, np.mean)
    reference.update({
        "distance_threshold": float(np.quantile(job_distance, QUANTILE)),
        "disagreement_threshold": float(np.quantile(job_split, QUANTILE)),
        "validation_jobs": int(len(job_distance)),
    })
    return reference


@dataclass
class DomainCheck:
    """The check of one job."""

    distance: float
    disagreement: float
    distance_threshold: float
    disagreement_threshold: float

    @property
    def out_of_domain(self) -> bool:
        return self.distance > self.distance_threshold or self.disagreement > self.disagreement_threshold

    def summary(self) -> str:
        state = "OUT OF DOMAIN" if self.out_of_domain else "in domain"
        return (f"{state}: feature distance {self.distance:.2f} (flag > {self.distance_threshold:.2f}), "
                f"d1/d2 disagreement {self.disagreement:.2f} (flag > {self.disagreement_threshold:.2f})")

    def to_dict(self) -> dict:
        return {"out_of_domain": self.out_of_domain, "distance": round(self.distance, 4),
                "disagreement": round(self.disagreement, 4), "distance_threshold": round(self.distance_threshold, 4),
                "disagreement_threshold": round(self.disagreement_threshold, 4)}


def check_job(features: np.ndarray, p_d1: np.ndarray, p_d2: np.ndarray, reference: dict | None) -> DomainCheck | None:
    """The job's check against a model's reference (``None`` for models trained without one)."""
    if not reference or len(features) == 0:
        return None
    distance = float(np.median(class_distances(features, reference)))
    disagreement = disagreement_rate(p_d1, p_d2) if len(features) >= MIN_CLASSES else 0.0
    return DomainCheck(distance, disagreement, float(reference["distance_threshold"]),
                       float(reference["disagreement_threshold"]))
