"""Kept 2D classes -> groups of one structure each: the optional split of a mixture (several complexes or
conformations in one Class2D job), so that each group's particles can go to their own 3D job.

Two 2D classes of one structure are usually *different views* of it, so looking alike after an in-plane
rotation is a weak test. What two projections of one 3D structure always share is a **common line**: by
the central-section theorem their 2D Fourier transforms hold the same central line (one 1D projection of
the structure), whatever the two viewing directions. The similarity of two classes is the best normalised
correlation between any central line of one and any of the other (either direction, over
:data:`LINE_ANGLES` angles), each line shifted by up to :data:`MAX_SHIFT` pixels along itself (class
averages are not centred to the pixel). The spectra are whitened first (each frequency shell divided by
the job's mean amplitude there) and cut at :data:`MAX_FREQUENCY`, so that a shared overall size does not
make every pair alike. On simulated mixtures this separates structures better than rotationally aligned
cross-correlation of the images (best rotation and mirror) and than common lines without the shift
(docs/grouping.md, where these choices were measured on calibration jobs apart from the benchmark's).

Classes are then merged by average-linkage hierarchical clustering of ``1 - similarity``: into the
number of groups the user gives, or, with ``auto``, into the 2 to :data:`AUTO_MAX_GROUPS` groups whose
mean silhouette is highest, if it reaches :data:`AUTO_SILHOUETTE` (else one group: ``auto`` does not
split a job of one structure; it undercounts rather than overcounts). Groups are numbered by their
particles, most first. SciPy is imported where it is used: the job reads this module's constants at
start-up.
"""

from __future__ import annotations

import numpy as np

#: The ``groups`` parameter's value that lets the classes decide how many groups there are.
AUTO = "auto"
#: Central-line directions sampled over 180 degrees (the other half are the same lines reversed).
LINE_ANGLES = 36
#: Highest spatial frequency compared, in cycles per pixel of the 64-pixel view: a period of 5 pixels, a
#: tenth of the particle's width (its shape and domains).
MAX_FREQUENCY = 0.2
#: Each line is compared shifted along itself by -MAX_SHIFT..MAX_SHIFT pixels of the view, in steps of one.
MAX_SHIFT = 3
#: ``auto``: how many groups at most, and the mean silhouette a split needs.
AUTO_MAX_GROUPS = 8
AUTO_SILHOUETTE = 0.5


def _whitened_spectra(views: np.ndarray) -> np.ndarray:
    """Centred 2D spectra of the (K, S, S) views, each frequency shell divided by the job's mean
    amplitude in it, zero beyond :data:`MAX_FREQUENCY`."""
    from scipy import fft

    size = views.shape[-1]
    spectra = fft.fftshift(fft.fft2(fft.ifftshift(views, axes=(1, 2))), axes=(1, 2))
    frequency = np.hypot(*np.meshgrid(*(fft.fftshift(fft.fftfreq(size)),) * 2, indexing="ij"))
    shell = np.rint(frequency * size).astype(int)
    amplitude = np.abs(spectra).mean(axis=0)
    profile = np.bincount(shell.ravel(), amplitude.ravel()) / np.maximum(np.bincount(shell.ravel()), 1)
    return spectra / np.maximum(profile[shell], 1e-12) * (frequency <= MAX_FREQUENCY)


def central_lines(views: np.ndarray) -> np.ndarray:
    """(K, LINE_ANGLES, 2R) unit-norm central lines of each view's whitened spectrum, from -R to R
    (without the zero frequency); R = MAX_FREQUENCY x view size."""
    from scipy import ndimage

    size = views.shape[-1]
    spectra = _whitened_spectra(np.asarray(views, dtype=np.float64))
    reach = int(MAX_FREQUENCY * size)
    radius = np.r_[-np.arange(reach, 0, -1), np.arange(1, reach + 1)].astype(float)
    angle = np.pi * np.arange(LINE_ANGLES) / LINE_ANGLES
    centre = size // 2
    coords = [centre + np.sin(angle)[:, None] * radius, centre + np.cos(angle)[:, None] * radius]
    lines = np.stack([ndimage.map_coordinates(spectrum.real, coords, order=1)
                      + 1j * ndimage.map_coordinates(spectrum.imag, coords, order=1) for spectrum in spectra])
    return lines / np.maximum(np.linalg.norm(lines, axis=2, keepdims=True), 1e-12)


def _real(lines: np.ndarray) -> np.ndarray:
    """Complex lines as real vectors (real parts, then imaginary parts): their dot product is the real
    part of the complex inner product, the correlation of the two 1D projections."""
    return np.concatenate([lines.real, lines.imag], axis=-1).astype(np.float32)


def common_line_similarity(views: np.ndarray) -> np.ndarray:
    """(K, K) symmetric: the best correlation between a central line of class i, shifted along itself, and
    a central line of class j in either direction (a line reversed is the same 1D projection mirrored,
    its spectrum's complex conjugate), 1 on the diagonal."""
    lines = central_lines(views)
    k, angles, length = lines.shape
    frequency = np.r_[-np.arange(length // 2, 0, -1), np.arange(1, length // 2 + 1)]
    shifts = np.arange(-MAX_SHIFT, MAX_SHIFT + 1)
    ramps = np.exp(2j * np.pi * np.outer(shifts, frequency) / views.shape[-1])
    shifted = _real((lines[:, :, None, :] * ramps).reshape(k, angles * len(shifts), length))
    forward, reverse = _real(lines.reshape(k * angles, length)), _real(lines.reshape(k * angles, length).conj())
    similarity = np.eye(k)
    for i in range(k - 1):
        rest = slice((i + 1) * angles, None)
        best = np.maximum(shifted[i] @ forward[rest].T, shifted[i] @ reverse[rest].T)
        similarity[i, i + 1:] = similarity[i + 1:, i] = best.reshape(-1, k - 1 - i, angles).max(axis=(0, 2))
    return similarity


def silhouette(distance: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a partition (0 for a class alone in its group), from a distance matrix."""
    found = np.unique(labels)
    members = labels[:, None] == found[None]  # (K, G)
    sums = distance @ members
    sizes = members.sum(axis=0)
    own = members.argmax(axis=1)
    rows = np.arange(len(labels))
    a = sums[rows, own] / np.maximum(sizes[own] - 1, 1)
    other = np.where(members, np.inf, sums / sizes)
    b = other.min(axis=1)
    values = np.where(sizes[own] > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(values.mean())


def cluster(similarity: np.ndarray, groups: int | str) -> np.ndarray:
    """(K,) cluster labels 1..G of average-linkage clustering of ``1 - similarity``: ``groups`` clusters
    (at most K), or with :data:`AUTO` the best-separated partition (module docstring)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    k = len(similarity)
    if k < 2:
        return np.ones(k, dtype=int)
    distance = np.clip(1.0 - (similarity + similarity.T) / 2, 0.0, None)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), "average")
    if groups != AUTO:
        return fcluster(tree, min(int(groups), k), "maxclust")
    candidates = [fcluster(tree, n, "maxclust") for n in range(2, min(AUTO_MAX_GROUPS, k - 1) + 1)]
    scores = [silhouette(distance, labels) if len(np.unique(labels)) > 1 else -1.0 for labels in candidates]
    if not scores or max(scores) < AUTO_SILHOUETTE:
        return np.ones(k, dtype=int)
    return candidates[int(np.argmax(scores))]  # the fewest groups among equally good partitions


def group_classes(views: np.ndarray, groups: int | str, weights: np.ndarray | None = None) -> np.ndarray:
    """Group K class views (K, S, S) into ``groups`` (a number, or :data:`AUTO`): (K,) group numbers 1..G,
    group 1 the one with the largest total ``weights`` (particles; else classes), ties by first class."""
    labels = cluster(common_line_similarity(views), groups) if len(views) > 1 else np.ones(len(views), dtype=int)
    weights = np.ones(len(views)) if weights is None else np.asarray(weights, dtype=float)
    found = np.unique(labels)
    order = sorted(found, key=lambda g: (-weights[labels == g].sum(), int(np.flatnonzero(labels == g)[0])))
    renumber = {int(g): n for n, g in enumerate(order, start=1)}
    return np.array([renumber[int(g)] for g in labels], dtype=int)
