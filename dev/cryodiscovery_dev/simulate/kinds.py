"""Clean (noise- and CTF-free) signal of every particle kind: true particles and junk.

Each renderer draws on a square canvas in pixels (twice the box, so that CTF fringes and
clipped particles behave as on a micrograph) and returns the image plus its ground truth.
Junk contrast is set relative to the structure's typical projected density (``level``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import fft, ndimage

from .imaging import project
from .orientations import sample_orientations
from .point_model import Structure

GOOD_KIND = "particle"
JUNK_KINDS: tuple[str, ...] = ("empty", "ice", "carbon", "aggregate", "clipped", "fragment")
ALL_KINDS: tuple[str, ...] = (GOOD_KIND,) + JUNK_KINDS


@dataclass
class RenderContext:
    """What every renderer needs: the structure, sampling, and orientation bias."""

    structure: Structure
    pixel_size: float
    box: int
    shift_sd_px: float = 1.5
    preferred_fraction: float = 0.0
    preferred_view: tuple[float, float] = (0.0, 0.0)

    @property
    def canvas(self) -> int:
        return 2 * self.box

    @property
    def radius_px(self) -> float:
        return self.structure.radius / self.pixel_size

    @cached_property
    def level(self) -> float:
        """Typical peak projected density (point weight per pixel) of the structure."""
        img = project(self.structure, np.zeros(3), np.zeros(2), self.canvas, self.pixel_size)
        return float(np.percentile(ndimage.gaussian_filter(img, self.structure.blob_sigma / self.pixel_size), 99.5))


def _orientation(ctx: RenderContext, rng: np.random.Generator) -> np.ndarray:
    return sample_orientations(rng, 1, ctx.preferred_fraction, ctx.preferred_view)[0]


def _hinge(ctx: RenderContext, rng: np.random.Generator) -> float:
    h = ctx.structure.hinge
    return float(rng.uniform(-h["max_angle"], h["max_angle"])) if h else 0.0


def render_particle(ctx: RenderContext, rng: np.random.Generator, shift_px: np.ndarray | None = None,
                    keep: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """A true particle (or a subset of its points) at random angles and a random or given shift."""
    angles = _orientation(ctx, rng)
    if shift_px is None:
        shift_px = np.clip(rng.normal(0, ctx.shift_sd_px, 2), -3 * ctx.shift_sd_px, 3 * ctx.shift_sd_px)
    hinge = _hinge(ctx, rng)
    img = project(ctx.structure, angles, shift_px, ctx.canvas, ctx.pixel_size, hinge, keep)
    truth = {"rot": angles[0], "tilt": angles[1], "psi": angles[2], "shift_x_A": shift_px[0] * ctx.pixel_size,
             "shift_y_A": shift_px[1] * ctx.pixel_size, "hinge_angle": hinge}
    return img, truth


def _soft_disc(canvas: int, centre: np.ndarray, radii: np.ndarray, angle: float, edge: float) -> np.ndarray:
    y, x = np.indices((canvas, canvas)) - canvas // 2
    c, s = np.cos(angle), np.sin(angle)
    u = ((x - centre[0]) * c + (y - centre[1]) * s) / radii[0]
    v = (-(x - centre[0]) * s + (y - centre[1]) * c) / radii[1]
    r = np.hypot(u, v)
    return 1.0 / (1.0 + np.exp((r - 1.0) * radii.min() / edge))


def _smooth_noise(rng: np.random.Generator, canvas: int, sigma_px: float) -> np.ndarray:
    """Unit-variance Gaussian-correlated noise (filtered in Fourier space: cost independent of sigma)."""
    fy, fx = np.fft.fftfreq(canvas)[:, None], np.fft.rfftfreq(canvas)[None, :]
    f = fft.rfft2(rng.normal(size=(canvas, canvas))) * np.exp(-2 * np.pi**2 * sigma_px**2 * (fx**2 + fy**2))
    n = fft.irfft2(f, s=(canvas, canvas))
    return n / (n.std() + 1e-12)


def render_empty(ctx: RenderContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A pick on empty ice: only a faint, smooth ice-thickness variation."""
    return 0.05 * ctx.level * _smooth_noise(rng, ctx.canvas, ctx.box / 4), {}


def render_ice(ctx: RenderContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Ice contamination: a large, strongly scattering blob (dark on the micrograph, so of the
    same sign as protein, but several times stronger, in contrast-inverted particle images)."""
    n = int(rng.integers(1, 3))
    img = np.zeros((ctx.canvas, ctx.canvas))
    for _ in range(n):
        r = rng.uniform(0.3, 1.1) * ctx.radius_px * np.array([1.0, rng.uniform(0.6, 1.0)])
        centre = rng.uniform(-0.4, 0.4, 2) * ctx.box
        img += _soft_disc(ctx.canvas, centre, r, rng.uniform(0, np.pi), rng.uniform(0.8, 2.5))
    img *= rng.uniform(2.0, 5.0) * ctx.level * (1 + 0.1 * _smooth_noise(rng, ctx.canvas, 2.0))
    return img, {"n_blobs": n}


def render_carbon(ctx: RenderContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Carbon edge: a step in density across a straight line near the centre, with carbon texture."""
    y, x = np.indices((ctx.canvas, ctx.canvas)) - ctx.canvas // 2
    angle = rng.uniform(0, 2 * np.pi)
    offset = rng.uniform(-0.3, 0.3) * ctx.box
    d = x * np.cos(angle) + y * np.sin(angle) - offset
    step = 1.0 / (1.0 + np.exp(-d / rng.uniform(0.5, 1.5)))
    texture = 1 + 0.25 * _smooth_noise(rng, ctx.canvas, 1.5)
    return rng.uniform(0.6, 1.5) * ctx.level * step * texture, {"edge_angle": float(np.rad2deg(angle)),
                                                               "edge_offset_A": float(offset * ctx.pixel_size)}


def render_aggregate(ctx: RenderContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Several particles overlapping in one pick."""
    n = int(rng.integers(2, 5))
    img = np.zeros((ctx.canvas, ctx.canvas))
    for _ in range(n):
        phi = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(0.4, 1.0) * ctx.radius_px
        img += render_particle(ctx, rng, shift_px=dist * np.array([np.cos(phi), np.sin(phi)]))[0]
    return img, {"n_members": n}


def render_clipped(ctx: RenderContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A particle far off-centre, partly outside the box."""
    phi = rng.uniform(0, 2 * np.pi)
    dist = rng.uniform(0.35, 0.55) * ctx.box
    return render_particle(ctx, rng, shift_px=dist * np.array([np.cos(phi), np.sin(phi)]))


def render_fragment(ctx: RenderContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Partial density: the points on one side of a random plane (25-60% of the mass)."""
    normal = rng.normal(size=3)
    normal /= np.linalg.norm(normal)
    d = ctx.structure.coords @ normal
    keep = d < np.quantile(d, rng.uniform(0.25, 0.6))
    img, truth = render_particle(ctx, rng, keep=keep)
    return img, dict(truth, mass_fraction=float(ctx.structure.weights[keep].sum() / ctx.structure.weights.sum()))


RENDERERS = {
    GOOD_KIND: lambda ctx, rng: render_particle(ctx, rng),
    "empty": render_empty, "ice": render_ice, "carbon": render_carbon,
    "aggregate": render_aggregate, "clipped": render_clipped, "fragment": render_fragment,
}


def render(kind: str, ctx: RenderContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Clean canvas image of one pick of ``kind`` plus its ground truth."""
    if kind not in RENDERERS:
        raise ValueError(f"unknown particle kind {kind!r}; choose from {ALL_KINDS}")
    return RENDERERS[kind](ctx, rng)
