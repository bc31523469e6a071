"""Resolution normalisation: every class image onto one physical scale and a 64x64 grid.

The rule (documented in ``docs/model.md``):

1. Window: a centred square of side ``WINDOW_FACTOR x particle diameter`` (clipped to the box);
   with no known diameter, the whole box. So a particle fills the same fraction of the grid
   whatever the pixel size and box the lab used.
2. Resample the window to ``IMAGE_SIZE x IMAGE_SIZE`` with anti-aliasing (area-preserving
   down-sampling, bilinear up-sampling).
3. Normalise robustly: subtract the median of the solvent (outside the particle circle), divide
   by the standard deviation inside the particle circle (so weak and strong classes keep their
   relative contrast to noise), clip to +-``CLIP_SIGMA``.
4. Soft circular mask at the window edge (cosine fall-off), like RELION's zero-masked averages.

Empty, constant and non-finite classes are detected before any arithmetic; their network
image is all zeros and they carry a reason so they score 0 and never poison a batch.
3D class maps become ``VIEWS_3D`` 2D views: three orthogonal projections and three central
sections, each normalised as above.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .masks import radial_distance, soft_mask

IMAGE_SIZE = 64
WINDOW_FACTOR = 1.25
CLIP_SIGMA = 8.0
VIEWS_3D = 6
#: Relative standard deviation under which an image counts as constant (empty).
CONSTANT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PreprocessConfig:
    """Parameters of the normalisation, stored in the model card."""

    image_size: int = IMAGE_SIZE
    window_factor: float = WINDOW_FACTOR
    clip_sigma: float = CLIP_SIGMA

    def to_dict(self) -> dict[str, float]:
        return {"image_size": self.image_size, "window_factor": self.window_factor, "clip_sigma": self.clip_sigma}

    @classmethod
    def from_dict(cls, values: dict) -> "PreprocessConfig":
        return cls(
            image_size=int(values["image_size"]),
            window_factor=float(values["window_factor"]),
            clip_sigma=float(values["clip_sigma"]),
        )


def image_problem(image: np.ndarray) -> str | None:
    """Why an image cannot be scored (``None`` when it can)."""
    if image.size == 0:
        return "empty image (no pixels)"
    if not np.all(np.isfinite(image)):
        return "non-finite values (NaN or Inf) in class image"
    spread = float(image.max() - image.min())
    scale = float(np.abs(image).max())
    if spread <= CONSTANT_TOLERANCE * max(scale, 1.0):
        return "empty class image (constant or all zero)"
    return None


def window_pixels(box: int, pixel_size: float | None, particle_diameter: float | None, factor: float) -> int:
    """Side in pixels of the centred window that holds the particle plus margin."""
    if not pixel_size or not particle_diameter or pixel_size <= 0 or particle_diameter <= 0:
        return box
    side = int(np.ceil(factor * particle_diameter / pixel_size))
    side += side % 2 != box % 2  # keep the window centred on the same pixel as the box
    return int(min(max(side, 8), box))


def particle_radius_fraction(box: int, window: int, pixel_size: float | None, particle_diameter: float | None) -> float:
    """Particle radius as a fraction of the resampled grid's half-width."""
    if not pixel_size or not particle_diameter or pixel_size <= 0 or particle_diameter <= 0:
        return 0.8
    return float(min(0.5 * particle_diameter / pixel_size / (0.5 * window), 1.0))


def resample(window: np.ndarray, size: int) -> np.ndarray:
    """A square float64 ``window`` on a ``size x size`` grid: exactly what
    ``skimage.transform.resize(window, (size, size), order=1, anti_aliasing=n > size, preserve_range=True)``
    computes (scikit-image 0.19-0.26, which the shipped models were trained with; tested against it):
    when down-sampling, a Gaussian of sigma ``(n / size - 1) / 2``; then a bilinear zoom on the pixel
    grid with mirrored edges; clipped to the window's range. Written out with ``scipy.ndimage``
    because importing scikit-image's transform module cost the External job ~0.1 s and 13 MB
    (docs/benchmarks.md)."""
    factors = np.divide(window.shape, (size, size))
    filtered = window
    if window.shape[0] > size:
        filtered = ndimage.gaussian_filter(window, np.maximum(0, (factors - 1) / 2), cval=0, mode="mirror")
    out = ndimage.zoom(filtered, [1 / f for f in factors], order=1, mode="mirror", cval=0, grid_mode=True)
    np.clip(out, np.asarray(window.min()), np.asarray(window.max()), out=out)
    return out


@functools.lru_cache(maxsize=8)
def _radius_grid(size: int) -> np.ndarray:
    """Distance of each pixel from the middle of the view, in units of the half-width (read-only;
    once per size)."""
    grid = radial_distance((size, size), "middle", size / 2.0)
    grid.setflags(write=False)
    return grid


@functools.lru_cache(maxsize=8)
def _soft_edge(size: int) -> np.ndarray:
    """The view's mask: 1 out to 90% of the half-width, raised cosine to 0 at the edge (read-only;
    once per size)."""
    mask = soft_mask((size, size), 0.9, 0.1, "middle", size / 2.0).astype(np.float32)
    mask.setflags(write=False)
    return mask


def normalise_view(
    image: np.ndarray,
    pixel_size: float | None,
    particle_diameter: float | None,
    config: PreprocessConfig = PreprocessConfig(),
) -> np.ndarray:
    """One finite, non-constant 2D image -> normalised ``(S, S)`` float32 network image."""
    box = image.shape[-1]
    side = window_pixels(box, pixel_size, particle_diameter, config.window_factor)
    start = (box - side) // 2
    window = image[start : start + side, start : start + side].astype(np.float64)
    size = config.image_size
    resampled = resample(window, size)
    radius = _radius_grid(size)
    inside = radius <= particle_radius_fraction(box, side, pixel_size, particle_diameter)
    solvent = ~inside & (radius <= 1.0)
    background = float(np.median(resampled[solvent])) if solvent.sum() >= 16 else float(np.median(resampled))
    spread = float(resampled[inside].std()) if inside.sum() >= 16 else float(resampled.std())
    if spread <= 0:
        spread = float(resampled.std()) or 1.0
    normalised = np.clip((resampled - background) / spread, -config.clip_sigma, config.clip_sigma)
    return (normalised * _soft_edge(size)).astype(np.float32)


def map_views(volume: np.ndarray) -> list[np.ndarray]:
    """A 3D map -> three orthogonal projections and three central sections."""
    centre = volume.shape[0] // 2
    projections = [volume.sum(axis=axis) for axis in range(3)]
    sections = [volume[centre], volume[:, centre], volume[:, :, centre]]
    return projections + sections


@dataclass
class PreparedImages:
    """Network images of K classes and which of them could be prepared."""

    #: (K, V, S, S) float32; zeros where a class is unusable.
    images: np.ndarray
    #: (K,) True where the class image could be normalised.
    usable: np.ndarray
    #: (K,) why a class is unusable, "" where usable.
    problems: list[str]


def prepare_images(
    images: np.ndarray,
    dimensionality: int,
    pixel_size: float | None,
    particle_diameter: float | None,
    config: PreprocessConfig = PreprocessConfig(),
) -> PreparedImages:
    """Normalise every class image (2D) or map (3D) of a job."""
    n_views = 1 if dimensionality == 2 else VIEWS_3D
    size = config.image_size
    out = np.zeros((len(images), n_views, size, size), dtype=np.float32)
    usable = np.zeros(len(images), dtype=bool)
    problems: list[str] = []
    for k, image in enumerate(images):
        problem = image_problem(image)
        if problem is None:
            views = [image] if dimensionality == 2 else map_views(image)
            for v, view in enumerate(views):
                if image_problem(view) is None:
                    out[k, v] = normalise_view(view, pixel_size, particle_diameter, config)
            usable[k] = True
        problems.append(problem or "")
    return PreparedImages(images=out, usable=usable, problems=problems)
