"""A model's domain reference (:mod:`.domain`): fitted from its training and validation jobs, saved beside
its card (``domain_reference.npz`` and ``extra["domain"]``), and loaded back for the check.

The feature distance's reference is JSON in the card; the view signals' basis (mean view and components) is
stored as :data:`REFERENCE_FILE`, named with its SHA-256. How the thresholds are set: the module docstring
of :mod:`.domain`.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.features import FEATURE_NAMES
from .domain_measures import (CORE_RADIUS, DETAIL_SIGMA_PX, MIN_CLASSES, RING, VIEW_SIGNALS, ViewBasis, domain_columns,
                              flat_views, job_descriptor, job_distance, job_signals, view_geometry, view_measures)

#: Flag a feature distance above this multiple of the largest validation-job distance.
MARGIN = 1.1
#: The file beside ``model_card.json`` holding the view basis.
REFERENCE_FILE = "domain_reference.npz"
#: Layout version of the view reference (``extra["domain"]["views"]["version"]``).
VIEW_REFERENCE_VERSION = 1
#: Principal components of the training views that count as reconstructed.
COMPONENTS = 64
#: Views sampled from the training jobs to fit the basis.
BASIS_VIEWS = 20000
#: Added to the largest validation-job value of a view signal (log10 units: a factor 1.5).
LOG_MARGIN = 0.18
#: Random draws of good classes per few-class job size when calibrating.
FEW_CLASS_DRAWS = 2000


# --------------------------------------------------------------------------------------------
# The feature distance's reference


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


def _job_indices(groups: np.ndarray) -> list[np.ndarray]:
    """Row indices of each job (sorted job ids)."""
    groups = np.asarray(groups)
    return [np.flatnonzero(groups == g) for g in np.unique(groups)]


def fit_feature_reference(train_features: np.ndarray, train_groups: np.ndarray, val_features: np.ndarray,
                          val_groups: np.ndarray, feature_names=FEATURE_NAMES) -> dict:
    """The feature distance's reference (JSON): statistics from the training jobs, the threshold from the
    validation jobs."""
    columns = domain_columns(feature_names)
    train_jobs = [np.asarray(train_features, float)[i] for i in _job_indices(train_groups)]
    train = np.array([job_descriptor(f, columns) for f in train_jobs])
    median = np.median(train, axis=0)
    scale = robust_spread(train)
    scale = np.where(scale > 1e-6, scale, np.maximum(train.std(axis=0), 1e-3))
    reference = {"columns": columns.tolist(), "names": [feature_names[i] for i in columns],
                 "median": median.tolist(), "scale": scale.tolist(),
                 "within_scale": within_job_scale(train_jobs, columns).tolist(), "margin": MARGIN,
                 "training_jobs": len(train)}
    distances = np.array([job_distance(np.asarray(val_features)[i], reference) for i in _job_indices(val_groups)])
    reference.update({
        "distance_threshold": float(MARGIN * distances.max()),
        "validation_jobs": int(len(distances)),
        "validation_distance_quantiles": [float(x) for x in np.quantile(distances, [0.5, 0.9, 0.99, 1.0])],
    })
    return reference


# --------------------------------------------------------------------------------------------
# The view signals' reference


def fit_view_basis(images: np.ndarray, seed: int = 0, max_views: int = BASIS_VIEWS,
                   components: int = COMPONENTS) -> ViewBasis:
    """Principal components of (a seeded sample of at most ``max_views``) training views."""
    views, _, _ = flat_views(images)
    rng = np.random.default_rng(seed)
    if len(views) > max_views:
        views = views[np.sort(rng.choice(len(views), max_views, replace=False))]
    views = views[np.abs(views).reshape(len(views), -1).max(axis=1) > 0]  # unusable classes are all zero
    disc = view_geometry(views.shape[-1])[0]
    x = views[:, disc].astype(np.float64)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return ViewBasis(mean.astype(np.float32), vt[:components].astype(np.float32), int(views.shape[-1]))


def _log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log10(p / (1 - p)))


def _from_log_odds(x: float) -> float:
    return float(1.0 / (1.0 + 10.0 ** (-x)))


def _with_margin(name: str, value: float) -> float:
    """``value`` raised by :data:`LOG_MARGIN` in the signal's log scale (log-odds for reconstruction)."""
    return _from_log_odds(_log_odds(value) + LOG_MARGIN) if name == "reconstruction" else value + LOG_MARGIN


def _few_class_maxima(measures: list[dict[str, np.ndarray]], good: list[np.ndarray], seed: int) -> dict[str, list]:
    """Per signal, for n = 1 .. MIN_CLASSES - 1: its largest value over sets of n good classes of one
    validation job (every good class for n = 1, :data:`FEW_CLASS_DRAWS` random draws otherwise)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {name: [] for name in VIEW_SIGNALS}
    for n in range(1, MIN_CLASSES):
        jobs = [i for i, g in enumerate(good) if g.sum() >= n]
        if n == 1:
            draws = [job_signals(measures[i], np.array([row])) for i in jobs for row in np.flatnonzero(good[i])]
        else:
            draws = [job_signals(measures[i], rng.choice(np.flatnonzero(good[i]), n, replace=False))
                     for i in (rng.choice(jobs, FEW_CLASS_DRAWS) if jobs else [])]
        for name in VIEW_SIGNALS:
            out[name].append(max(d[name] for d in draws) if draws else None)
    return out


@dataclass
class ViewReference:
    """The view signals' reference: the basis and, per signal, the whole-job and few-class thresholds."""

    basis: ViewBasis
    #: name -> threshold for a job of >= MIN_CLASSES classes.
    job_thresholds: dict[str, float]
    #: name -> thresholds for jobs of 1 .. MIN_CLASSES - 1 classes.
    few_thresholds: dict[str, list[float]]
    #: Calibration summary for the card.
    info: dict = field(default_factory=dict)

    def threshold(self, name: str, n_classes: int) -> float:
        if 1 <= n_classes < MIN_CLASSES:
            return float(self.few_thresholds[name][n_classes - 1])
        return float(self.job_thresholds[name])

    def card_entry(self, sha256: str) -> dict:
        return {"file": REFERENCE_FILE, "sha256": sha256, "version": VIEW_REFERENCE_VERSION,
                "components": int(len(self.basis.components)), "core_radius": CORE_RADIUS, "ring": list(RING),
                "detail_sigma_px": DETAIL_SIGMA_PX, "log_margin": LOG_MARGIN, "min_classes": MIN_CLASSES,
                "job_thresholds": self.job_thresholds, "few_class_thresholds": self.few_thresholds, **self.info}

    @classmethod
    def from_card(cls, entry: dict, arrays) -> "ViewReference":
        info = {k: v for k, v in entry.items() if k not in ("job_thresholds", "few_class_thresholds")}
        return cls(ViewBasis.from_arrays(arrays), {k: float(v) for k, v in entry["job_thresholds"].items()},
                   {k: [float(x) for x in v] for k, v in entry["few_class_thresholds"].items()}, info)


def fit_view_reference(train_images: np.ndarray, train_groups: np.ndarray, train_labels: np.ndarray,
                       val_images: np.ndarray, val_groups: np.ndarray, val_labels: np.ndarray,
                       seed: int = 0, components: int = COMPONENTS) -> ViewReference:
    """The basis from half of the training jobs (drawn with ``seed``); the thresholds from the other half
    and the validation jobs, none of which the basis saw (see the module docstring)."""
    train_groups = np.asarray(train_groups)
    names = np.unique(train_groups)
    rng = np.random.default_rng(seed)
    basis_jobs = rng.permutation(names)[: (len(names) + 1) // 2]
    in_basis = np.isin(train_groups, basis_jobs)
    basis = fit_view_basis(np.asarray(train_images)[in_basis], seed, components=components)
    measures, good = [], []
    held = (np.asarray(train_images)[~in_basis], train_groups[~in_basis], np.asarray(train_labels)[~in_basis])
    for images, groups, labels in (held, (np.asarray(val_images), val_groups, val_labels)):
        for rows in _job_indices(groups):
            usable = np.abs(images[rows].reshape(len(rows), -1)).max(axis=1) > 0
            measures.append(view_measures(images[rows][usable], basis))
            good.append(np.asarray(labels)[rows][usable] == 1)
    values = [job_signals(m) for m in measures]
    job_values = {name: np.array([v[name] for v in values]) for name in VIEW_SIGNALS}
    job_thresholds = {name: _with_margin(name, float(v.max())) for name, v in job_values.items()}
    few = _few_class_maxima(measures, good, seed)
    few_thresholds = {name: [max(job_thresholds[name], _with_margin(name, x) if x is not None else job_thresholds[name])
                             for x in few[name]] for name in VIEW_SIGNALS}
    info = {"basis_jobs": int(len(basis_jobs)), "basis_views": int(min(BASIS_VIEWS, int(in_basis.sum()))),
            "calibration_jobs": len(measures),
            "calibration_job_quantiles": {name: [round(float(x), 4) for x in np.quantile(v, [0.5, 0.9, 0.99, 1.0])]
                                          for name, v in job_values.items()},
            "threshold_rule": f"largest value over the calibration jobs (training jobs outside the basis and the "
                              f"validation jobs) + {LOG_MARGIN} (log10; log-odds for reconstruction); jobs of "
                              f"1-{MIN_CLASSES - 1} classes: the largest value over as many good classes of one "
                              "calibration job + the margin, at least the whole-job threshold"}
    return ViewReference(basis, job_thresholds, few_thresholds, info)


# --------------------------------------------------------------------------------------------
# The reference of a model


@dataclass
class DomainReference:
    """A model's reference: the feature distance's (JSON) and, from 0.6.0, the view signals'."""

    features: dict | None
    views: ViewReference | None = None
    #: Why the view reference of a card that names one could not be used ("" when it could).
    problem: str = ""

    def card_entry(self, sha256: str | None = None) -> dict:
        """``extra["domain"]`` of the card (``sha256`` of the saved :data:`REFERENCE_FILE`)."""
        entry = dict(self.features or {})
        if self.views is not None:
            entry["views"] = self.views.card_entry(sha256 or "")
        return entry

    def save(self, directory: str | Path) -> dict:
        """Write :data:`REFERENCE_FILE` into a model directory; return the card's ``extra["domain"]``
        (the caller stores it in the card)."""
        if self.views is None:
            return self.card_entry()
        path = Path(directory) / REFERENCE_FILE
        np.savez(path, **self.views.basis.arrays())
        return self.card_entry(_sha256(path))

    @classmethod
    def from_card(cls, entry: dict | None, directory: str | Path | None) -> "DomainReference | None":
        """The reference a card names (``None`` when it has none); a card of 0.6.0 whose file is missing or
        altered keeps its feature distance and says why the view signals are off."""
        if not entry:
            return None
        features = {k: v for k, v in entry.items() if k != "views"} or None
        views = entry.get("views")
        if not views:
            return cls(features)
        if directory is None:
            return cls(features, problem="no model directory to read the view reference from")
        path = Path(directory) / views.get("file", REFERENCE_FILE)
        try:
            arrays = _load_arrays(str(path), views.get("sha256", ""))
        except (OSError, ValueError, KeyError) as error:
            return cls(features, problem=f"view reference {path} unusable ({error})")
        return cls(features, ViewReference.from_card(views, arrays))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=4)
def _load_arrays(path: str, sha256: str) -> dict[str, np.ndarray]:
    """The arrays of a reference file whose SHA-256 is ``sha256`` (read once per process)."""
    if _sha256(Path(path)) != sha256:
        raise ValueError("its SHA-256 is not the one the model card records")
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in ("mean", "components", "size")}


def fit_domain_reference(train_features: np.ndarray, train_groups: np.ndarray, val_features: np.ndarray,
                         val_groups: np.ndarray, feature_names=FEATURE_NAMES, *, train_images: np.ndarray | None = None,
                         val_images: np.ndarray | None = None, train_labels: np.ndarray | None = None,
                         val_labels: np.ndarray | None = None, seed: int = 0,
                         components: int = COMPONENTS) -> DomainReference:
    """A model's reference from its training and validation jobs (rows of classes; ``groups`` = job ids).

    With the views (``(N, V, S, S)``) and labels (1 = good) of both, the view signals too. Write it into a
    model directory with :func:`attach_domain_reference`.
    """
    features = fit_feature_reference(train_features, train_groups, val_features, val_groups, feature_names)
    views = None
    if all(x is not None for x in (train_images, val_images, train_labels, val_labels)):
        views = fit_view_reference(train_images, train_groups, train_labels, val_images, val_groups, val_labels, seed,
                                   components)
    return DomainReference(features, views)


def attach_domain_reference(directory: str | Path, reference: DomainReference, card=None) -> dict:
    """Write ``reference`` into a model directory: :data:`REFERENCE_FILE` and ``extra["domain"]`` of its
    ``model_card.json`` (``card``, or the directory's); returns that entry."""
    from .card import ModelCard

    card = card if card is not None else ModelCard.load(directory)
    entry = reference.save(directory)
    card.extra["domain"] = entry
    card.save(directory)
    return entry
