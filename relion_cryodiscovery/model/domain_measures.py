"""What the job-level domain check (:mod:`.domain`) measures on a job's classes, the same when a model's
reference is fitted (:mod:`.domain_reference`) and when a job is checked: the feature distance's job descriptor
and distance, and the view measures (reconstruction error, solvent energy and detail) with the job's view
signals. The module docstring of :mod:`.domain` says what each signal means.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..data.features import FEATURE_GROUPS, FEATURE_NAMES
from ..data.masks import radial_distance

#: Feature groups the feature distance uses: computable from the pixels alone.
DOMAIN_GROUPS: tuple[str, ...] = ("image", "spectral")
#: Jobs with fewer classes than this give no disagreement rate of their own and are judged against
#: medians of as many good classes (the view signals).
MIN_CLASSES = 5
#: Radius of the particle's core and the solvent ring, in half-widths of the view (the preprocessing
#: puts the particle's circle at 0.8 and starts the view's soft edge at 0.9).
CORE_RADIUS = 0.64
RING = (0.82, 0.90)
#: Width (px of the 64 px view) of the blur whose residual is the solvent's fine detail.
DETAIL_SIGMA_PX = 1.5
#: Floors of the energies (views are normalised to unit spread inside the particle).
_ENERGY_FLOOR, _DETAIL_FLOOR = 1e-4, 1e-5
#: The view signals, in the order a check reports them.
VIEW_SIGNALS: tuple[str, ...] = ("reconstruction", "solvent")


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


# --------------------------------------------------------------------------------------------
# The view signals (models from 0.6.0)


@functools.lru_cache(maxsize=4)
def view_geometry(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def flat_views(images: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``(K, V, S, S)`` or ``(K, S, S)`` -> ``(K * V, S, S)`` float32, K, V."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    k, v, s = images.shape[0], images.shape[1], images.shape[-1]
    return images.reshape(k * v, s, s).astype(np.float32), k, v


def view_measures(images: np.ndarray, basis: ViewBasis) -> dict[str, np.ndarray]:
    """Per class (mean over its views): ``reconstruction`` (fraction of energy not reconstructed),
    ``solvent_energy`` and ``solvent_detail`` (log10 ratios to the core's energy; see the module docstring)."""
    from scipy import ndimage  # here: the External job imports this module before its model worker starts

    views, k, v = flat_views(images)
    if views.shape[-1] != basis.size:
        raise ValueError(f"views of {views.shape[-1]} px, the basis was fitted on {basis.size} px")
    disc, core, ring = view_geometry(basis.size)
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
