"""Per-class metadata and image-statistics features, with explicit missing flags.

Layout of a feature row (``F = 2 * len(FEATURE_NAMES)``)::

    [value_1 .. value_n | missing_1 .. missing_n]

A value is a transformed quantity of order one (logs, fractions, within-job z-scores). When a
source lacks what a feature needs (a bare ``.mrcs`` stack has no ``model.star``; a RELION 3.0
job has no ``rlnAccuracyTranslationsAngst``; a VDAM job may lack counts), the value is set to
its documented fill in :data:`FEATURE_FILLS` (a typical value, not zero) and its flag to 1.
Features are grouped by the source they come from; :func:`withhold_metadata` hides whole
groups during training so the image branch alone stays strong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..relion.classes import ClassSet
from .spectral import spectral_features

#: RELION writes this for the accuracy of classes that received no particles.
RELION_UNDEFINED_ACCURACY = 999.0


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    group: str
    fill: float
    meaning: str


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("log10_particles", "counts", 2.5, "log10(particles in the class + 1), counted from rlnClassNumber"),
    FeatureSpec("particle_fraction_x_k", "counts", 1.0, "particle fraction x number of classes (1 = average class)"),
    FeatureSpec("particles_rank", "counts", 0.5, "rank of the particle count within the job, 0 (fewest) .. 1 (most)"),
    FeatureSpec("particles_z", "counts", 0.0, "z-score of log10 particle count within the job"),
    FeatureSpec("distribution_x_k", "distribution", 1.0, "rlnClassDistribution x number of classes"),
    FeatureSpec("log10_accuracy_rotations", "accuracy", 0.8, "log10(rlnAccuracyRotations, deg), 999 = undefined"),
    FeatureSpec("accuracy_undefined", "accuracy", 0.0, "1 when RELION wrote 999 (class received no particles)"),
    FeatureSpec("accuracy_translations_px", "accuracy", 1.0, "rlnAccuracyTranslationsAngst / pixel size, capped at 10"),
    FeatureSpec("resolution_over_nyquist", "resolution", 2.0, "rlnEstimatedResolution / (2 x pixel size), capped at 20"),
    FeatureSpec("log10_resolution", "resolution", 1.2, "log10(rlnEstimatedResolution in A)"),
    FeatureSpec("resolution_z", "resolution", 0.0, "z-score of log10 resolution within the job"),
    FeatureSpec("fourier_completeness", "completeness", 0.9, "rlnOverallFourierCompleteness"),
    FeatureSpec("log10_pixel_size", "geometry", 0.2, "log10(pixel size in A)"),
    FeatureSpec("diameter_over_box", "geometry", 0.7, "particle diameter / box width"),
    FeatureSpec("log10_classes", "geometry", 1.5, "log10(number of classes in the job)"),
    FeatureSpec("inside_over_outside_std", "image", 2.0, "std inside the particle circle / std in the solvent"),
    FeatureSpec("edge_signal", "image", 0.2, "mean |signal| on the particle-circle rim / mean |signal| inside"),
    FeatureSpec("centre_offset", "image", 0.1, "offset of the |signal| centre of mass from the centre, in half-widths"),
    FeatureSpec("radius_of_gyration", "image", 0.4, "radius of gyration of |signal|, in half-widths"),
    FeatureSpec("low_high_power", "image", 1.0, "log10 of low- over high-frequency power"),
    FeatureSpec("kurtosis", "image", 0.0, "excess kurtosis of pixel values inside the circle (scaled by 1/10)"),
    FeatureSpec("hf_power_fraction", "spectral", 0.05, "in-mask power at k D >= 10 over power at k D >= 1 (full-detail view)"),
    FeatureSpec("spectral_resolution_kd", "spectral", 1.2, "log10(k D) where the radial power meets the class's noise floor"),
    FeatureSpec("spectral_resolution_nyquist", "spectral", 0.5, "that frequency / the view's Nyquist"),
    FeatureSpec("spectral_slope", "spectral", -0.9, "slope of log power vs log k D over 2..12, / 4"),
    FeatureSpec("ring_1", "spectral", 1.5, "mean intensity at 0-1/3 particle radius (solvent 0, units of in-disc std)"),
    FeatureSpec("ring_2", "spectral", 0.5, "mean intensity at 1/3-2/3 particle radius"),
    FeatureSpec("ring_3", "spectral", 0.0, "mean intensity at 2/3-1 particle radius"),
    FeatureSpec("ring_4", "spectral", 0.0, "mean intensity at 1-1.3 particle radii"),
    FeatureSpec("edge_anisotropy", "spectral", 0.4, "log10 max/median power over 18 directions at k D >= 3"),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_FILLS: np.ndarray = np.array([f.fill for f in FEATURES], dtype=np.float32)
FEATURE_GROUPS: tuple[str, ...] = tuple(f.group for f in FEATURES)
#: Groups that come from RELION's STAR files (withheld in training); "image" and "spectral" are
#: always computable from the pixels.
METADATA_GROUPS: tuple[str, ...] = ("counts", "distribution", "accuracy", "resolution", "completeness", "geometry")
N_FEATURES = len(FEATURES)


def n_feature_inputs() -> int:
    """Width of the network's feature input (values and missing flags)."""
    return 2 * N_FEATURES


def feature_values(features: np.ndarray, name: str) -> np.ndarray:
    """One feature's values from feature rows, NaN where the feature is missing."""
    features = np.asarray(features, float)
    i = FEATURE_NAMES.index(name)
    return np.where(features[:, N_FEATURES + i] > 0.5, np.nan, features[:, i])


def _zscore(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    out = np.full_like(values, np.nan)
    if finite.sum() >= 2:
        spread = values[finite].std()
        out[finite] = (values[finite] - values[finite].mean()) / (spread if spread > 0 else 1.0)
    elif finite.sum() == 1:
        out[finite] = 0.0
    return out


def _rank(values: np.ndarray) -> np.ndarray:
    order = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    return order / max(len(values) - 1, 1)


def _column(classes: ClassSet, name: str) -> np.ndarray | None:
    values = classes.metadata.get(name)
    return None if values is None else np.asarray(values, dtype=np.float64)


def metadata_values(classes: ClassSet) -> dict[str, np.ndarray]:
    """Raw metadata feature values per class (NaN where the source lacks them)."""
    k = classes.n_classes
    nan = np.full(k, np.nan)
    out: dict[str, np.ndarray] = {}
    counts = classes.particle_counts
    if counts is not None and counts.sum() > 0:
        log_counts = np.log10(counts.astype(np.float64) + 1.0)
        out["log10_particles"] = log_counts
        out["particle_fraction_x_k"] = counts / counts.sum() * k
        out["particles_rank"] = _rank(counts.astype(np.float64))
        out["particles_z"] = _zscore(log_counts)
    distribution = _column(classes, "rlnClassDistribution")
    if distribution is not None:
        out["distribution_x_k"] = distribution * k
    accuracy_rot = _column(classes, "rlnAccuracyRotations")
    if accuracy_rot is not None:
        undefined = accuracy_rot >= RELION_UNDEFINED_ACCURACY
        out["log10_accuracy_rotations"] = np.where(undefined, np.log10(180.0), np.log10(np.clip(accuracy_rot, 0.05, 180)))
        out["accuracy_undefined"] = undefined.astype(np.float64)
    pixel = classes.pixel_size
    accuracy_trans = _column(classes, "rlnAccuracyTranslationsAngst")
    if accuracy_trans is not None and pixel:
        out["accuracy_translations_px"] = np.clip(accuracy_trans / pixel, 0.0, 10.0)
    elif _column(classes, "rlnAccuracyTranslations") is not None:  # RELION 3.0: already in pixels
        out["accuracy_translations_px"] = np.clip(_column(classes, "rlnAccuracyTranslations"), 0.0, 10.0)
    resolution = _column(classes, "rlnEstimatedResolution")
    if resolution is not None:
        resolution = np.where(resolution > 0, resolution, np.nan)
        if pixel:
            out["resolution_over_nyquist"] = np.clip(resolution / (2.0 * pixel), 1.0, 20.0)
        log_res = np.log10(np.clip(resolution, 0.5, 1000.0))
        out["log10_resolution"] = log_res
        out["resolution_z"] = _zscore(log_res)
    completeness = _column(classes, "rlnOverallFourierCompleteness")
    if completeness is not None:
        out["fourier_completeness"] = completeness
    if pixel:
        out["log10_pixel_size"] = np.full(k, np.log10(pixel))
        if classes.particle_diameter:
            out["diameter_over_box"] = np.full(k, classes.particle_diameter / (classes.box_size * pixel))
    if k > 1 and (classes.metadata or counts is not None):
        out["log10_classes"] = np.full(k, np.log10(k))
    return {name: out.get(name, nan) for name in FEATURE_NAMES if FEATURES[FEATURE_NAMES.index(name)].group in METADATA_GROUPS}


def image_statistics(images: np.ndarray, usable: np.ndarray) -> dict[str, np.ndarray]:
    """Image-statistics features of prepared network images ``(K, V, S, S)`` (first view)."""
    k, _, size, _ = images.shape
    centre = (size - 1) / 2.0
    y, x = np.mgrid[:size, :size]
    radius = np.hypot(y - centre, x - centre) / (size / 2.0)
    inside = radius <= 0.64
    rim = (radius > 0.58) & (radius <= 0.7)
    solvent = (radius > 0.7) & (radius <= 0.9)
    low = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size))) < 0.08
    stats = {name: np.full(k, np.nan) for name in FEATURE_NAMES if name in _IMAGE_NAMES}
    for i in np.flatnonzero(usable):
        view = images[i, 0].astype(np.float64)
        magnitude = np.abs(view)
        total = magnitude.sum()
        if total <= 0:
            continue
        stats["inside_over_outside_std"][i] = min(view[inside].std() / max(view[solvent].std(), 1e-3), 100.0)
        stats["edge_signal"][i] = magnitude[rim].mean() / max(magnitude[inside].mean(), 1e-6)
        cy, cx = (magnitude * y).sum() / total, (magnitude * x).sum() / total
        stats["centre_offset"][i] = np.hypot(cy - centre, cx - centre) / (size / 2.0)
        stats["radius_of_gyration"][i] = np.sqrt((magnitude * radius**2).sum() / total)
        power = np.abs(np.fft.fft2(view)) ** 2
        stats["low_high_power"][i] = np.log10((power[low].sum() + 1e-6) / (power[~low].sum() + 1e-6))
        values = view[inside]
        spread = values.std()
        stats["kurtosis"][i] = ((((values - values.mean()) / spread) ** 4).mean() - 3.0) / 10.0 if spread > 0 else 0.0
    return stats


_IMAGE_NAMES = tuple(f.name for f in FEATURES if f.group == "image")


def assemble(values: dict[str, np.ndarray]) -> np.ndarray:
    """Named raw values (NaN = missing) -> ``(K, F)`` rows of values and missing flags."""
    raw = np.stack([np.asarray(values[name], dtype=np.float64) for name in FEATURE_NAMES], axis=1)
    missing = ~np.isfinite(raw)
    filled = np.where(missing, FEATURE_FILLS[None, :], raw)
    return np.concatenate([filled, missing.astype(np.float64)], axis=1).astype(np.float32)


def class_features(classes: ClassSet, images: np.ndarray, usable: np.ndarray,
                   before_metadata: Callable[[], None] | None = None) -> np.ndarray:
    """All features of a job's classes: ``(K, F)`` float32. The image features come first; then
    ``before_metadata`` runs, then the metadata are read from ``classes`` (the External job counts the
    particles per class there: its data.star pass runs beside the image work)."""
    values = image_statistics(images, usable)
    values.update(spectral_features(classes.images, usable, classes.dimensionality, classes.pixel_size,
                                    classes.particle_diameter))
    if before_metadata is not None:
        before_metadata()
    values.update(metadata_values(classes))
    return assemble(values)


def withhold_metadata(features: np.ndarray, rng: np.random.Generator, p_all: float, p_each: float) -> np.ndarray:
    """Training-time metadata dropout on ``(N, F)`` rows: set values to fills and flags to 1.

    With probability ``p_all`` a row loses every metadata group (a bare class stack); otherwise
    each metadata group is hidden independently with probability ``p_each``. Image statistics
    are never withheld. Returns a new array.
    """
    out = np.array(features, dtype=np.float32, copy=True)
    n = len(out)
    groups = np.array(FEATURE_GROUPS)
    hide_all = rng.random(n) < p_all
    for group in METADATA_GROUPS:
        columns = np.flatnonzero(groups == group)
        hide = hide_all | (rng.random(n) < p_each)
        rows = np.flatnonzero(hide)
        out[np.ix_(rows, columns)] = FEATURE_FILLS[columns]
        out[np.ix_(rows, columns + N_FEATURES)] = 1.0
    return out


def hide_groups(features: np.ndarray, groups: list[str] | tuple[str, ...]) -> np.ndarray:
    """Rows with every feature of ``groups`` set to its fill and flagged missing (ablations).
    Returns a new array."""
    out = np.array(features, dtype=np.float32, copy=True)
    columns = np.flatnonzero(np.isin(np.array(FEATURE_GROUPS), list(groups)))
    out[:, columns] = FEATURE_FILLS[columns]
    out[:, columns + N_FEATURES] = 1.0
    return out


def raise_particle_counts(features: np.ndarray, decades: float | np.ndarray) -> np.ndarray:
    """Rows as if their job had ``10 ** decades`` times the particles: ``log10_particles`` + ``decades``
    (a number, or one per row) where the count is present. Returns a new array."""
    out = np.array(features, dtype=np.float32, copy=True)
    column = FEATURE_NAMES.index("log10_particles")
    present = out[:, column + N_FEATURES] == 0
    out[present, column] += np.broadcast_to(np.asarray(decades, np.float32), (len(out),))[present]
    return out


def shift_particle_counts(features: np.ndarray, rng: np.random.Generator, p: float, max_decades: float) -> np.ndarray:
    """Training-time scale augmentation: with probability ``p`` a row's ``log10_particles`` grows by
    U(0, ``max_decades``) (where it is present), as if the job had 10-1000x the particles.

    Our corpus's classes hold tens to hundreds of particles, a lab's thousands; without this the
    absolute count is out of range at inference (docs/corpus.md). The job-relative count features
    are unchanged. Returns a new array.
    """
    chosen = rng.random(len(features)) < p
    return raise_particle_counts(features, np.where(chosen, rng.uniform(0.0, max_decades, len(features)), 0.0))
