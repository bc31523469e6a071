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
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.features import FEATURE_GROUPS, FEATURE_NAMES
from ..data.masks import radial_distance

#: Feature groups the feature distance uses: computable from the pixels alone.
DOMAIN_GROUPS: tuple[str, ...] = ("image", "spectral")
#: Flag a feature distance above this multiple of the largest validation-job distance.
MARGIN = 1.1
#: Jobs with fewer classes than this give no disagreement rate of their own and are judged against
#: medians of as many good classes (the view signals).
MIN_CLASSES = 5
ADVICE = ("this job looks unlike the classes the model was trained on: look at the montage and the scores "
          "before trusting the selection")

#: The file beside ``model_card.json`` holding the view basis.
REFERENCE_FILE = "domain_reference.npz"
#: Layout version of the view reference (``extra["domain"]["views"]["version"]``).
VIEW_REFERENCE_VERSION = 1
#: Principal components of the training views that count as reconstructed.
COMPONENTS = 64
#: Views sampled from the training jobs to fit the basis.
BASIS_VIEWS = 20000
#: Radius of the particle's core and the solvent ring, in half-widths of the view (the preprocessing
#: puts the particle's circle at 0.8 and starts the view's soft edge at 0.9).
CORE_RADIUS = 0.64
RING = (0.82, 0.90)
#: Width (px of the 64 px view) of the blur whose residual is the solvent's fine detail.
DETAIL_SIGMA_PX = 1.5
#: Added to the largest validation-job value of a view signal (log10 units: a factor 1.5).
LOG_MARGIN = 0.18
#: Random draws of good classes per few-class job size when calibrating.
FEW_CLASS_DRAWS = 2000
#: Floors of the energies (views are normalised to unit spread inside the particle).
_ENERGY_FLOOR, _DETAIL_FLOOR = 1e-4, 1e-5
VIEW_SIGNALS: tuple[str, ...] = ("reconstruction", "solvent")
_MEANING = {
    "reconstruction": "fraction of the views' energy the training basis does not reconstruct",
    "solvent": "log10 energy and detail outside the particle circle vs its core",
    "features": "largest robust z of the job's pixel features vs the training jobs",
}


# --------------------------------------------------------------------------------------------
# The feature distance (models from 0.2.0)


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
# The view signals (models from 0.6.0)


@functools.lru_cache(maxsize=4)
def _view_geometry(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(disc, core, ring) boolean masks of a ``size`` px view."""
    radius = radial_distance((size, size), "middle", size / 2.0)
    return radius <= 1.0, radius <= CORE_RADIUS, (radius > RING[0]) & (radius <= RING[1])


@dataclass(frozen=True)
class ViewBasis:
    """The training views' mean and principal components over the view's disc."""

    #: (D,) mean of the training views at the disc's pixels.
    mean: np.ndarray
    #: (C, D) orthonormal principal components, strongest first.
    components: np.ndarray
    #: Side of the views in pixels.
    size: int

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean.astype(np.float32), "components": self.components.astype(np.float32),
                "size": np.array(self.size, np.int64)}

    @classmethod
    def from_arrays(cls, arrays) -> "ViewBasis":
        return cls(np.asarray(arrays["mean"], np.float32), np.asarray(arrays["components"], np.float32),
                   int(arrays["size"]))


def _flat_views(images: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``(K, V, S, S)`` or ``(K, S, S)`` -> ``(K * V, S, S)`` float32, K, V."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    k, v, s = images.shape[0], images.shape[1], images.shape[-1]
    return images.reshape(k * v, s, s).astype(np.float32), k, v


def fit_view_basis(images: np.ndarray, seed: int = 0, max_views: int = BASIS_VIEWS,
                   components: int = COMPONENTS) -> ViewBasis:
    """Principal components of (a seeded sample of at most ``max_views``) training views."""
    views, _, _ = _flat_views(images)
    rng = np.random.default_rng(seed)
    if len(views) > max_views:
        views = views[np.sort(rng.choice(len(views), max_views, replace=False))]
    views = views[np.abs(views).reshape(len(views), -1).max(axis=1) > 0]  # unusable classes are all zero
    disc = _view_geometry(views.shape[-1])[0]
    x = views[:, disc].astype(np.float64)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return ViewBasis(mean.astype(np.float32), vt[:components].astype(np.float32), int(views.shape[-1]))


def view_measures(images: np.ndarray, basis: ViewBasis) -> dict[str, np.ndarray]:
    """Per class (mean over its views): ``reconstruction`` (fraction of energy not reconstructed),
    ``solvent_energy`` and ``solvent_detail`` (log10 ratios to the core's energy; see the module docstring)."""
    from scipy import ndimage  # here: the External job imports this module before its model worker starts

    views, k, v = _flat_views(images)
    if views.shape[-1] != basis.size:
        raise ValueError(f"views of {views.shape[-1]} px, the basis was fitted on {basis.size} px")
    disc, core, ring = _view_geometry(basis.size)
    centred = views[:, disc] - basis.mean
    coefficients = centred @ basis.components.T
    total = np.maximum((centred**2).sum(axis=1), 1e-12)
    reconstruction = np.clip(1.0 - (coefficients**2).sum(axis=1) / total, 0.0, 1.0)
    detail = views - ndimage.gaussian_filter(views, (0, DETAIL_SIGMA_PX, DETAIL_SIGMA_PX))
    core_energy = np.log10((views[:, core] ** 2).mean(axis=1) + _ENERGY_FLOOR)
    ring_energy = np.log10((views[:, ring] ** 2).mean(axis=1) + _ENERGY_FLOOR)
    ring_detail = np.log10((detail[:, ring] ** 2).mean(axis=1) + _DETAIL_FLOOR)
    per_view = {"reconstruction": reconstruction, "solvent_energy": ring_energy - core_energy,
                "solvent_detail": ring_detail - core_energy}
    return {name: values.reshape(k, v).mean(axis=1) for name, values in per_view.items()}


def job_signals(measures: dict[str, np.ndarray], rows: np.ndarray | slice = slice(None)) -> dict[str, float]:
    """The job's view signals from its classes' :func:`view_measures` (``rows``: a subset of classes):
    the median reconstruction error, and the mean of the median solvent energy and detail."""
    return {"reconstruction": float(np.median(measures["reconstruction"][rows])),
            "solvent": float(0.5 * (np.median(measures["solvent_energy"][rows])
                                    + np.median(measures["solvent_detail"][rows])))}


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
