"""Lab-like 2D class averages from atomic models, formed analytically (the fast path).

A lab's Class2D job holds tens to hundreds of classes of 20-50,000 particles each, in a
64-400 px box at 0.8-4.5 A/px; good classes of many particles are sharp enough to show
alpha-helices and RNA grooves. Simulating each particle at that scale would take hours per job,
so each class average is formed in closed form, the way a CTF-weighted (Wiener) average of N
aligned images behaves:

    F_avg(k) = [N <CTF^2>(k) E(k) S(k) + sqrt(N <CTF^2>(k)) sigma_n xi(k)] / [N <CTF^2>(k) + tau(k)]

* ``S`` is the class's clean signal: the mean of a few projections of the atomic model at views
  jittered by the class's angular misalignment (so out-of-plane spread and in-plane rotation
  errors blur it as they do in real classes); junk kinds have their own signals (below).
* ``<CTF^2>`` is averaged over the job's defocus range, ``E`` is the B-factor and
  translational-misalignment envelope; the lowest frequencies are under-restored by a per-job factor
  (the dark halo round real classes), and the solvent is brought to zero as particle normalisation does.
* ``tau = sigma_n^2 / (fudge * |S|^2)`` regularises like RELION's tau2; noise shrinks as 1/sqrt(N).

Junk as labs see it: ice and contamination, carbon edges, aggregates, neighbouring and clipped
particles, featureless blobs, noise attractors, streaky over-fitted classes, partly good mixtures,
blurred classes of many particles that do not average (heterogeneous or misaligned) and empty
classes. Then a hand-over style (RELION float, zero-masked or not; 8-bit export with
contrast stretch; JPEG artefacts) is applied to the whole job, as a lab would export it.

Labels follow what a person sees: a class is good when it is a particle view (purity >= 0.75,
not clipped, not an aggregate) whose resolution shows detail for its size: 12 A (secondary
structure), three pixels (binned data) or a ninth of the particle's diameter (large
complexes), whichever is coarsest (:func:`.truth.label_is_good`; relative to the job:
:func:`.truth.job_relative_labels`). Every random choice comes from one seed.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np
from scipy import fft, ndimage, special
from scipy.spatial.transform import Rotation

from relion_cryodiscovery.relion.classes import ClassSet
from relion_cryodiscovery.data.masks import soft_disc
from .atomic import (ELEMENTS, PENG_ELECTRON, atomic_model_names, catalog, load_model, scattering_weights)
from .ctf import CtfParams, ctf_values, frequency_grid
# the labelling rules live beside the relion_refine corpus's rule; imported here for the simulator's users
from .truth import (GOOD_PURITY, GOOD_RESOLUTION_A, GOOD_RESOLUTION_DIAMETER_FRACTION,  # noqa: F401
                    GOOD_RESOLUTION_NYQUIST_FACTOR, PARTICLE, VIEW_KINDS, is_particle_view, job_relative_labels,
                    label_is_good)

#: Version of the simulator (written into corpus summaries). 2: solvent at zero, deeper and wider halos set
#: against the real sets, mostly masked hand-over, lumpy blobs, speckled over-fitted classes, mixtures of
#: similar size (``scripts/research/realism_stats.py``; docs/corpus.md). 3 (low-pass at resolution, soft mask edges) was
#: tried and not kept. 4: simulator 2 plus moderate-resolution particle views (``MODERATE_VIEW_FRACTION``).
SIMULATOR_VERSION = 4
#: Kinds of classes and how often a job's non-particle classes are of each kind.
JUNK_KINDS: dict[str, float] = {
    "ice": 0.09, "carbon_edge": 0.09, "aggregate": 0.10, "neighbours": 0.07, "clipped": 0.07,
    "blob": 0.12, "noise_attractor": 0.10, "streaky": 0.08, "mixed": 0.11, "misaligned": 0.13, "empty": 0.04,
}
#: RELION's tau2_fudge for 2D classification.
TAU_FUDGE = 2.0
#: Depth (fraction of low-frequency amplitude removed at k = 0) and width (in k D) of the dark halo.
#: Set against the real sets' displayed classes (``scripts/research/realism_stats.py``): corner grey level and dark fraction.
HALO_DEPTH = (0.4, 1.0)
HALO_WIDTH_KD = (0.8, 2.0)
#: Share of particle views resolved only to 3-8% of the particle's diameter (flexible complexes, sparse or
#: poorly aligning views): real Class2D jobs of large complexes hold many good classes at 10-20 A, which
#: simulator 2 hardly made (its misalignment shrinks with class size), and the model rejected such real
#: classes (himena-relion job065 ring views). The extra B is ``MODERATE_B_PER_A2 * target**2``, about what
#: pushes the spectral SNR from ~100 to 1 at the target; the label still comes from the measured resolution.
MODERATE_VIEW_FRACTION = 0.3
MODERATE_RESOLUTION_DIAMETER = (0.03, 0.08)
MODERATE_B_PER_A2 = 9.2
#: Detergent density relative to protein (micelles round membrane proteins).
MICELLE_DENSITY = 0.35


# ---------------------------------------------------------------------------------------------
# Structures: atoms -> weighted points with one effective form factor


@dataclass
class PointModel:
    """Scatterers of one structure: points (A, centred), f_e(0) weights, mean form factor shape."""

    name: str
    xyz: np.ndarray
    weights: np.ndarray
    #: (a_i, b_i) of the weight-averaged 5-Gaussian form factor, normalised to 1 at k = 0.
    form_a: np.ndarray
    form_b: np.ndarray
    shape: str
    diameter_a: float
    #: Unit vector of the longest principal axis (filaments are seen side on).
    axis: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0, 0.0]))

    def form_factor(self, k: np.ndarray, bfactor: float) -> np.ndarray:
        s2 = (k / 2.0) ** 2
        return sum(a * np.exp(-(b + bfactor) * s2) for a, b in zip(self.form_a, self.form_b))


def _principal_axis(xyz: np.ndarray) -> np.ndarray:
    """Unit vector of the longest principal axis of points (from at most ~4,000 of them)."""
    sample = xyz[:: max(1, len(xyz) // 4000)]
    return np.linalg.svd(sample - sample.mean(0), full_matrices=False)[2][0]


def _micelle_points(xyz: np.ndarray, rng: np.random.Generator, protein_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-atoms of a detergent micelle: an oblate ellipsoidal shell round the model's
    principal (longest) axis at its densest slab, density ``MICELLE_DENSITY`` of protein."""
    centred = xyz - xyz.mean(0)
    axis = _principal_axis(xyz)
    height = centred @ axis
    hist, edges = np.histogram(height, bins=12)
    slab = 0.5 * (edges[np.argmax(hist)] + edges[np.argmax(hist) + 1])
    in_slab = np.abs(height - slab) < 15
    radial = np.linalg.norm(centred[in_slab] - np.outer(height[in_slab], axis), axis=1)
    r_out = float(np.percentile(radial, 90)) + 12.0 if in_slab.any() else 30.0
    half_thickness = 17.0
    n = int(np.clip(4.0 * r_out**2 * half_thickness * 0.02, 500, 40000))
    u = rng.uniform(-1, 1, (n * 3, 3))
    u = u[(u**2).sum(1) <= 1][:n]
    basis = np.linalg.svd(np.eye(3) - np.outer(axis, axis))[0][:, :2]
    pts = (u[:, :2] * r_out) @ basis.T + np.outer(u[:, 2] * half_thickness + slab, axis) + xyz.mean(0)
    # protein ~ 0.8 Da/A^3 (~1/135 heavy atoms per A^3); detergent fills the shell at MICELLE_DENSITY.
    volume = 4 / 3 * np.pi * r_out**2 * half_thickness
    w = np.full(len(pts), MICELLE_DENSITY * protein_weight * volume / 135.0 / max(len(pts), 1))
    return pts, w


@lru_cache(maxsize=None)
def point_model(name: str) -> PointModel:
    """The committed atomic model ``name`` as weighted points (cached per process)."""
    m = load_model(name)
    w = scattering_weights(m.element, m.n_hydrogen)
    counts = np.bincount(m.element, minlength=len(ELEMENTS)).astype(float)
    counts[0] += m.n_hydrogen.sum()
    a = sum(c * np.array(PENG_ELECTRON[e][0]) for e, c in zip(ELEMENTS, counts) if c)
    b_sum = sum(c * np.array(PENG_ELECTRON[e][0]) * np.array(PENG_ELECTRON[e][1]) for e, c in zip(ELEMENTS, counts) if c)
    b = b_sum / np.maximum(a, 1e-12)  # weight-averaged Gaussian widths (a good fit up to ~1/3 A^-1)
    total = a.sum()
    xyz = m.xyz - (m.xyz * w[:, None]).sum(0) / w.sum()
    shape = str(catalog()[name].get("shape", "globular"))
    if shape == "membrane":
        # seeded by the name's CRC-32: Python's hash() of a str differs between processes
        pts, pw = _micelle_points(xyz, np.random.default_rng(zlib.crc32(name.encode())), float(w.mean()))
        xyz, w = np.concatenate([xyz, pts]), np.concatenate([w, pw])
    diameter = 2.0 * float(np.percentile(np.linalg.norm(xyz, axis=1), 99.5))
    return PointModel(name, xyz.astype(np.float64), w, a / total, b, shape, diameter, _principal_axis(xyz))


#: Smaller particles are not imaged by single-particle cryo-EM in practice; they are left out of jobs.
MIN_MASS_KDA = 15.0


def model_pool(exclude: tuple[str, ...] = ()) -> list[str]:
    """Atomic models available for jobs (at least ``MIN_MASS_KDA``; optionally without some)."""
    return [n for n in atomic_model_names() if n not in exclude and catalog()[n]["mass_kda"] >= MIN_MASS_KDA]


# ---------------------------------------------------------------------------------------------
# Projection


def splat(points_px: np.ndarray, weights: np.ndarray, box: int) -> np.ndarray:
    """Bilinear splat of (x, y) points (px, origin at the box centre) onto a box x box grid (y, x)."""
    c = box // 2
    x = points_px[:, 0] + c
    y = points_px[:, 1] + c
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    grid = np.zeros(box * box)
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        ok = (xi >= 0) & (xi < box) & (yi >= 0) & (yi < box)
        grid += np.bincount(yi[ok] * box + xi[ok], weights[ok] * w[ok], minlength=box * box)
    return grid.reshape(box, box)


class JobGrid:
    """Frequency grids and filters shared by all classes of one job."""

    def __init__(self, box: int, pixel_size: float):
        self.box, self.pixel_size = box, pixel_size
        self.kx, self.ky = frequency_grid(box, pixel_size, half=True)
        self.k = np.hypot(self.kx, self.ky)
        self.shell = np.minimum(np.round(self.k * box * pixel_size).astype(int), box // 2 + 1)
        # bilinear splatting multiplies the spectrum by sinc^2 along each axis: divide it out
        sx = np.sinc(self.kx * pixel_size) ** 2
        sy = np.sinc(self.ky * pixel_size) ** 2
        self.splat_correction = 1.0 / np.maximum(sx * sy, 0.05)

    def radial_profile(self, values: np.ndarray) -> np.ndarray:
        """Rotational average of a half-plane array, one value per shell."""
        counts = np.bincount(self.shell.ravel(), minlength=self.box // 2 + 2)
        sums = np.bincount(self.shell.ravel(), values.ravel(), minlength=self.box // 2 + 2)
        return sums / np.maximum(counts, 1)

    def radial_mean(self, values: np.ndarray) -> np.ndarray:
        """Rotational average of a half-plane array, spread back onto the grid."""
        return self.radial_profile(values)[self.shell]


def project(model: PointModel, rotations: Rotation, grid: JobGrid, bfactor: float) -> np.ndarray:
    """Mean rfft2 spectrum of the model's projections along z after each rotation (A^-1 grid)."""
    acc = np.zeros((grid.box, grid.box))
    mats = rotations.as_matrix().reshape(-1, 3, 3)
    for mat in mats:
        acc += splat((model.xyz @ mat.T)[:, :2] / grid.pixel_size, model.weights, grid.box)
    spec = fft.rfft2(fft.ifftshift(acc / len(mats)))
    return spec * grid.splat_correction * model.form_factor(grid.k, bfactor)


def _shift_spectrum(spec: np.ndarray, grid: JobGrid, dx_px: float, dy_px: float) -> np.ndarray:
    phase = np.exp(-2j * np.pi * (grid.kx * dx_px + grid.ky * dy_px) * grid.pixel_size)
    return spec * phase


# ---------------------------------------------------------------------------------------------
# Jobs


@dataclass
class LabJobSpec:
    """Random choices that define one simulated lab job."""

    seed: int
    models: list[str]
    pixel_size: float
    box: int
    diameter_a: float
    n_classes: int
    n_particles: int
    junk_fraction: float
    #: Per-particle SNR of a 100 A particle at 1 A/px (scaled by (D/100 A)^2 and pixel size^2).
    snr: float
    bfactor: float
    voltage: float
    defocus_range_a: tuple[float, float]
    handover: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LabClass:
    """Truth of one simulated class."""

    kind: str
    n_particles: int
    purity: float
    resolution_a: float
    good: bool
    model: str


def _box_for(rng: np.random.Generator, diameter_a: float) -> tuple[int, float]:
    """Box 64-400 px and pixel size 0.8-4.5 A with the particle filling 35-85% of the box (mostly
    45-72%, as labs box particles at about 1.4-2.2 times their diameter)."""
    for _ in range(100):
        fill = rng.uniform(0.35, 0.85) if rng.random() < 0.15 else rng.uniform(0.45, 0.72)
        px = float(np.exp(rng.uniform(np.log(0.8), np.log(4.5))))
        box = int(2 * round(diameter_a / fill / px / 2))
        if 64 <= box <= 400:
            return box, round(px, 3)
    px = float(np.clip(diameter_a / 0.55 / 200, 0.8, 4.5))
    box = int(np.clip(2 * round(diameter_a / 0.55 / px / 2), 64, 400))
    return box, round(px, 3)


def _handover(rng: np.random.Generator) -> dict:
    """How the lab hands the classes over."""
    style = rng.choice(["relion_float", "cryosparc_float", "eight_bit", "jpeg", "figure"], p=[0.35, 0.1, 0.2, 0.15, 0.2])
    # What travels with the images: a RELION job (pixel size, mask diameter, per-class metadata) or a
    # bare stack (images only; the header's pixel size or none). Figures are always bare.
    bare = style == "figure" or rng.random() < 0.4
    return {
        "style": str(style),
        "metadata": "bare" if bare else "relion",
        "header_pixel_size": bool(rng.random() < 0.5) and style != "figure",
        "figure_scale": float(np.exp(rng.uniform(np.log(0.6), np.log(1.6)))),
        # RELION and cryoSPARC both show classes inside a circular mask; unmasked or noise-filled
        # exports are the exception (the real sets hold none)
        "mask": str(rng.choice(["zero", "none", "noise"], p=[0.75, 0.15, 0.10])),
        "stretch_percentile": float(rng.choice([0.0, rng.uniform(0.1, 2.0)])),
        "jpeg_quality": int(rng.integers(55, 96)),
        "invert": bool(rng.random() < 0.02),
        "per_image_range": bool(rng.random() < 0.95),
    }


def random_job_spec(rng: np.random.Generator, seed: int, models: list[str]) -> LabJobSpec:
    """Draw one job: one structure (or a mixture of 2-5), geometry, counts, imaging."""
    n_structures = int(rng.choice([1, 2, 3, 5], p=[0.75, 0.12, 0.08, 0.05]))
    first = str(rng.choice(models))
    # a mixture holds complexes of similar size (one box and mask suit them all)
    d0 = point_model(first).diameter_a
    partners = [m for m in models if m != first and 0.6 <= point_model(m).diameter_a / d0 <= 1.6]
    others = rng.choice(partners, size=min(n_structures - 1, len(partners)), replace=False) if partners else []
    chosen = [first] + [str(m) for m in others]
    diameter = max(point_model(m).diameter_a for m in chosen)
    box, px = _box_for(rng, diameter)
    k = int(rng.choice([rng.integers(10, 51), rng.integers(50, 151), rng.integers(150, 201)], p=[0.5, 0.4, 0.1]))
    per_class = float(np.exp(rng.uniform(np.log(40), np.log(8000))))
    lo = float(rng.uniform(5000, 15000))
    return LabJobSpec(
        seed=seed, models=chosen, pixel_size=px, box=box, diameter_a=round(diameter, 1), n_classes=k,
        n_particles=int(per_class * k), junk_fraction=round(float(rng.uniform(0.1, 0.8)), 3),
        snr=round(float(np.exp(rng.uniform(np.log(0.002), np.log(0.03)))), 4),
        bfactor=round(float(rng.uniform(30, 180)), 1), voltage=float(rng.choice([200.0, 300.0], p=[0.3, 0.7])),
        defocus_range_a=(lo, lo + float(rng.uniform(5000, 20000))), handover=_handover(rng),
    )


class _JobSimulator:
    """Forms every class of one job."""

    def __init__(self, spec: LabJobSpec, rng: np.random.Generator):
        self.spec, self.rng = spec, rng
        self.grid = JobGrid(spec.box, spec.pixel_size)
        self.models = [point_model(m) for m in spec.models]
        defoci = rng.uniform(*spec.defocus_range_a, 24)
        ctfs = [CtfParams(d, d * rng.uniform(0.97, 1.03), rng.uniform(0, 180), spec.voltage) for d in defoci]
        ctf2 = np.mean([ctf_values(self.grid.kx, self.grid.ky, c) ** 2 for c in ctfs], axis=0)
        self.ctf2 = self.grid.radial_mean(ctf2)
        # Low frequencies are under-restored in real averages (amplitude contrast only near k = 0,
        # per-particle background normalisation): a dark halo round the particle.
        # (the draws stay in this order so a seed makes the same job)
        halo = float(rng.uniform(*HALO_DEPTH))
        # per job: how roughly classes are centred, how much solvent clutter survives averaging
        self.centring = float(rng.uniform(0.0, 0.035))
        self.clutter_level = float(rng.uniform(0.0, 0.25))
        width = float(rng.uniform(*HALO_WIDTH_KD)) / spec.diameter_a  # of the halo
        self.low_cut = 1.0 - halo * np.exp(-((self.grid.k / width) ** 2))
        # Some programs and labs show classes sharpened (a negative B-factor up to the class's
        # resolution); drawn per job.
        self.sharpen_b = float(rng.uniform(20, 100)) if rng.random() < 0.25 else 0.0
        y, x = np.indices((spec.box, spec.box)) - spec.box // 2
        self.radius_px = np.hypot(x, y)
        self.particle_radius_px = 0.5 * spec.diameter_a / spec.pixel_size
        #: Signal variance of a CTF-modulated view in the particle disc, per structure (noise_sigma).
        self.reference_power: dict[str, float] = {}

    # -- signals -----------------------------------------------------------------------------
    def particle_signal(self, model: PointModel, rot: Rotation, angular_error: float, shift_error_a: float,
                        n_sub: int = 4) -> np.ndarray:
        """Class signal: mean of ``n_sub`` projections at views jittered by ``angular_error`` (deg)."""
        jitter = Rotation.from_rotvec(self.rng.normal(0, np.deg2rad(angular_error), (n_sub, 3)))
        spec = project(model, jitter * rot, self.grid, self.spec.bfactor)
        envelope = np.exp(-2 * np.pi**2 * shift_error_a**2 * self.grid.k**2)
        return spec * envelope

    def _random_rotation(self, model: PointModel | None = None) -> Rotation:
        """A uniform random orientation; filament segments are only seen side on (helical picking)."""
        if model is None or model.shape != "filament":
            return Rotation.random(random_state=self.rng.integers(2**31))
        spin = Rotation.from_rotvec(model.axis * self.rng.uniform(0, 2 * np.pi))
        angle = self.rng.uniform(0, 2 * np.pi)
        target = np.array([[np.cos(angle), np.sin(angle), 0.0]])
        align = Rotation.align_vectors(target, model.axis[None])[0]
        return align * spin

    def _real(self, spec: np.ndarray) -> np.ndarray:
        return fft.fftshift(fft.irfft2(spec, s=(self.spec.box, self.spec.box)))

    def _spectrum(self, image: np.ndarray) -> np.ndarray:
        return fft.rfft2(fft.ifftshift(image))

    def _smooth_noise(self, sigma_px: float) -> np.ndarray:
        return ndimage.gaussian_filter(self.rng.normal(0, 1, (self.spec.box,) * 2), sigma_px)

    def junk_signal(self, kind: str, model: PointModel, scale: float) -> tuple[np.ndarray, float, float]:
        """(spectrum, purity, extra blur B) of a junk class's clean signal."""
        s, rng, box = self.spec, self.rng, self.spec.box
        r_p = self.particle_radius_px
        if kind == "ice":
            centre = rng.uniform(-0.6, 0.6, 2) * box
            radius = rng.uniform(0.3, 0.9) * box
            blob = self._smooth_noise(rng.uniform(2, 6)) * rng.uniform(0.5, 2.0)
            y, x = np.indices((box, box)) - box // 2
            dist = np.hypot(x - centre[0], y - centre[1]) + blob * radius * 0.1
            img = (dist < radius).astype(float) * scale * rng.uniform(2, 6) * rng.choice([-1, 1])
            return self._spectrum(img), 0.0, float(rng.uniform(0, 200))
        if kind == "carbon_edge":
            angle = rng.uniform(0, np.pi)
            offset = rng.uniform(-0.4, 0.4) * box
            y, x = np.indices((box, box)) - box // 2
            d = x * np.cos(angle) + y * np.sin(angle) - offset
            d = d + rng.uniform(0, 0.004) * (x * np.sin(angle) - y * np.cos(angle)) ** 2  # slightly curved
            img = special.expit(d / rng.uniform(0.5, 2.0)) * scale * rng.uniform(1.5, 4)
            if rng.random() < 0.5:  # a particle next to the edge
                img = img + self._real(self.particle_signal(model, self._random_rotation(), 8, 4)) * rng.uniform(0.2, 0.7)
            return self._spectrum(img), 0.0, float(rng.uniform(0, 300))
        if kind == "aggregate":
            n = int(rng.integers(3, 9))
            spread = r_p * rng.uniform(0.5, 1.2)
            spec = sum(_shift_spectrum(self.particle_signal(model, self._random_rotation(), 20, 8, n_sub=2),
                                       self.grid, *rng.normal(0, spread, 2)) for _ in range(n))
            return spec / np.sqrt(n), 0.0, float(rng.uniform(300, 2500))
        if kind == "neighbours":
            spec = self.particle_signal(model, self._random_rotation(), rng.uniform(6, 15), rng.uniform(3, 8))
            for _ in range(int(rng.integers(1, 4))):
                ang = rng.uniform(0, 2 * np.pi)
                d = rng.uniform(1.6, 2.3) * r_p
                spec = spec + _shift_spectrum(self.particle_signal(model, self._random_rotation(), 15, 6, n_sub=2),
                                              self.grid, d * np.cos(ang), d * np.sin(ang)) * rng.uniform(0.5, 1.0)
            return spec, 0.5, float(rng.uniform(100, 800))
        if kind == "clipped":
            ang = rng.uniform(0, 2 * np.pi)
            d = rng.uniform(0.6, 1.3) * r_p + rng.uniform(0.1, 0.3) * box
            spec = _shift_spectrum(self.particle_signal(model, self._random_rotation(), rng.uniform(2, 8), 3),
                                   self.grid, d * np.cos(ang), d * np.sin(ang))
            return spec, 0.0, float(rng.uniform(0, 400))
        if kind == "blob":
            sig = r_p * rng.uniform(0.4, 0.8)
            axes = sig * rng.uniform(0.7, 1.3, 2)
            y, x = np.indices((box, box)) - box // 2
            t = rng.uniform(0, np.pi)
            u, v = x * np.cos(t) + y * np.sin(t), -x * np.sin(t) + y * np.cos(t)
            img = np.exp(-0.5 * ((u / axes[0]) ** 2 + (v / axes[1]) ** 2) ** rng.uniform(1, 3)) * scale * 0.6
            # real junk blobs are lumpy: a smooth field of lobes modulates the density
            lobes = self._smooth_noise(r_p * rng.uniform(0.15, 0.4))
            img = img * (1 + rng.uniform(0.3, 1.2) * lobes / max(lobes.std(), 1e-12))
            return self._spectrum(img), 0.0, float(rng.uniform(800, 5000))
        if kind == "noise_attractor":
            radial = np.cumsum(rng.normal(0, 1, 8))
            r = np.clip(self.radius_px / (r_p * 1.3) * 7, 0, 7)
            img = np.interp(r, np.arange(8), radial - radial[-1]) * (r < 7) * scale * 0.1
            return self._spectrum(img), 0.0, float(rng.uniform(600, 3000))
        if kind == "streaky":  # over-fitted noise: speckle in a particle-sized patch, sometimes streaked
            noise = self._smooth_noise(rng.uniform(0.6, 1.5))
            if rng.random() < 0.3:
                streak = ndimage.gaussian_filter1d(rng.normal(0, 1, (box, box)), rng.uniform(4, 15), axis=0)
                noise = noise / max(noise.std(), 1e-12) + ndimage.rotate(streak, rng.uniform(0, 180), reshape=False,
                                                                         mode="wrap") / max(streak.std(), 1e-12)
            envelope = np.exp(-0.5 * (self.radius_px / (r_p * rng.uniform(0.5, 0.9))) ** 4)
            lump = np.exp(-0.5 * (self.radius_px / (r_p * rng.uniform(0.3, 0.7))) ** 2) * rng.uniform(0, 1.5)
            img = (noise / max(noise.std(), 1e-12) * envelope + lump) * scale * rng.uniform(0.5, 2)
            return self._spectrum(img), 0.0, 0.0
        if kind == "stripes":  # parallel stripes over all or part of the disc, as in real streaked classes
            angle, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
            y, x = np.indices((box, box)) - box // 2
            u, v = x * np.cos(angle) + y * np.sin(angle), -x * np.sin(angle) + y * np.cos(angle)
            img = np.sin(2 * np.pi * u / (box * rng.uniform(0.06, 0.2)) + phase)
            if rng.random() < 0.6:  # a band or a side of the disc only
                img = img * special.expit((v - rng.uniform(-0.4, 0.3) * box) / rng.uniform(1, 4))
            patchy = self._smooth_noise(box * rng.uniform(0.05, 0.15))
            img = img * (1 + rng.uniform(0.3, 1.0) * patchy / max(patchy.std(), 1e-12)) * scale * rng.uniform(0.4, 2)
            if rng.random() < 0.3:  # a faint particle under the stripes
                img = img + self._real(self.particle_signal(model, self._random_rotation(), 10, 4)) * rng.uniform(0.2, 0.5)
            return self._spectrum(img), 0.0, float(rng.uniform(0, 200))
        if kind == "misaligned":  # many particles that do not average: heterogeneous, damaged or poorly aligned
            spec = self.particle_signal(model, self._random_rotation(model), rng.uniform(6, 25), rng.uniform(2, 6) * s.pixel_size)
            return self.recentre(spec), 1.0, float(rng.uniform(0, 600))
        if kind == "mixed":
            purity = float(rng.uniform(0.3, 1.0))
            rot = self._random_rotation(model)
            good = self.recentre(self.particle_signal(model, rot, rng.uniform(0.5, 3), rng.uniform(1, 3)))
            other_model = self.models[int(rng.integers(len(self.models)))]
            other = self.particle_signal(other_model, self._random_rotation(), 10, 5)
            return purity * good + (1 - purity) * other, purity, float(rng.uniform(0, 150))
        raise ValueError(f"unknown junk kind {kind!r}")

    # -- averaging ---------------------------------------------------------------------------
    def average(self, signal: np.ndarray, n: int, noise_sigma: float, extra_b: float) -> tuple[np.ndarray, float]:
        """Wiener average of ``n`` particles of clean spectrum ``signal``; returns image, resolution (A)."""
        g = self.grid
        if n == 0:
            noise = self._spectrum(self.rng.normal(0, 1e-3 * noise_sigma, (g.box, g.box)))
            return self._real(noise * np.exp(-((g.k * 40.0) ** 2))), float("inf")
        signal = signal * np.exp(-extra_b / 4.0 * g.k**2)
        power = g.radial_mean(np.abs(signal) ** 2)
        noise_power = noise_sigma**2 * g.box * g.box
        nc2 = n * self.ctf2
        tau = noise_power / (TAU_FUDGE * power + 1e-30)
        xi = self._spectrum(self.rng.normal(0, noise_sigma, (g.box, g.box)))
        f = (nc2 * signal + np.sqrt(nc2) * xi) / (nc2 + tau) * self.low_cut
        f[0, 0] = 0.0
        ssnr = g.radial_profile(nc2 * power / noise_power)
        ok = ssnr[1:] >= 1.0  # the class's spectral SNR (FRC ~ 0.5 between half-sets)
        last = int(np.flatnonzero(ok).max()) + 1 if ok.any() else 1
        resolution = g.box * g.pixel_size / max(last, 1)
        if self.sharpen_b > 0:
            f = f * np.exp(self.sharpen_b / 4.0 * np.minimum(g.k, 1.0 / resolution) ** 2)
        return self._real(f), float(resolution)

    def zero_solvent(self, image: np.ndarray) -> np.ndarray:
        """Solvent at zero, as particles normalised to a zero-mean background average (RELION, cryoSPARC),
        up to a small residual offset: the mask's edge barely shows."""
        solvent = (self.radius_px > 1.1 * self.particle_radius_px) & (self.radius_px < 0.5 * self.spec.box)
        level = float(image[solvent].mean()) if solvent.any() else 0.0
        return image - level + self.rng.normal(0, 0.05) * float(image.std())

    def recentre(self, spectrum: np.ndarray) -> np.ndarray:
        """A class is centred only roughly (centre of mass, alignment drift): a small random offset."""
        dx, dy = self.rng.normal(0, self.centring * self.spec.box, 2)
        return _shift_spectrum(spectrum, self.grid, dx, dy)

    def clutter(self, scale: float) -> np.ndarray:
        """Solvent that does not average away: neighbours' density, ice gradients, a smooth field
        whose strength is a fraction of the particle's and does not shrink with the class size."""
        sigma = max(1.0, self.particle_radius_px * self.rng.uniform(0.15, 0.6))
        field = self._smooth_noise(sigma)
        return field / max(field.std(), 1e-12) * scale * self.clutter_level

    def noise_sigma(self, model: PointModel) -> float:
        """Per-particle noise for the job's SNR (signal variance of a CTF-modulated view, in the particle disc)."""
        if model.name not in self.reference_power:
            spec = self.particle_signal(model, self._random_rotation(), 0.0, 0.0, n_sub=1)
            img = self._real(spec * np.sqrt(self.ctf2))
            self.reference_power[model.name] = float(img[self.radius_px <= self.particle_radius_px].var())
        snr = self.spec.snr * (model.diameter_a / 100.0) ** 2 * self.spec.pixel_size**2
        return float(np.sqrt(self.reference_power[model.name] / snr))


def _class_counts(rng: np.random.Generator, spec: LabJobSpec, kinds: list[str]) -> np.ndarray:
    """Particles per class: lognormal spreads around a share per kind. Particle views draw most
    particles, as in real jobs, where the class distribution alone ranks classes at ROC-AUC
    0.87-1.0 (docs/real_sets.md); attractors and blurred classes can still be large."""
    k = len(kinds)
    base = {PARTICLE: (2.0, 0.7), "mixed": (1.0, 0.7), "misaligned": (0.9, 0.8), "noise_attractor": (0.7, 1.0),
            "blob": (0.7, 1.0)}
    mean_share = np.ones(k)
    for i, kind in enumerate(kinds):
        if kind == "empty":
            mean_share[i] = 0.0
        else:
            centre, spread = base.get(kind, (0.3, 0.8))
            mean_share[i] = rng.lognormal(np.log(centre), spread)
    share = mean_share / mean_share.sum()
    counts = rng.multinomial(spec.n_particles, share)
    counts[np.array(kinds) != "empty"] = np.maximum(counts[np.array(kinds) != "empty"], int(rng.integers(1, 20)))
    return counts


def _apply_handover(images: np.ndarray, spec: LabJobSpec, rng: np.random.Generator) -> np.ndarray:
    """The job's export: RELION zero-mask, none, or noise outside; float, 8-bit, or JPEG."""
    h = spec.handover
    box = spec.box
    y, x = np.indices((box, box)) - box // 2
    r = np.hypot(x, y)
    mask_radius = min(0.5 * spec.diameter_a / spec.pixel_size * rng.uniform(1.05, 1.3), box / 2 - 2)
    soft = soft_disc(box, mask_radius, 5.0)
    out = images.copy()
    if h["mask"] == "zero":
        out = out * soft
    elif h["mask"] == "noise":
        ring = (r > 0.5 * mask_radius) & (r <= mask_radius)
        spread = out[:, ring].std(axis=1)[:, None, None] * rng.uniform(0.1, 0.5)
        texture = ndimage.gaussian_filter(rng.normal(0, 1, out.shape), (0, 1, 1))
        out = out * soft + (1 - soft) * texture / texture.std() * spread
    if h["invert"]:
        out = -out
    if h["style"] in ("relion_float", "cryosparc_float"):
        return out.astype(np.float32)
    if h["style"] == "figure":  # panels of a figure: resampled to the figure's size
        from PIL import Image

        size = int(np.clip(round(box * h["figure_scale"]), 48, 480))
        out = np.stack([np.asarray(Image.fromarray(frame.astype(np.float32), mode="F").resize((size, size), Image.BICUBIC))
                        for frame in out])
    # 8-bit export: each class with its own display range (as montages and figures are cut), or,
    # rarely, the whole stack with one (outlying classes saturate); optionally a percentile stretch
    p = h["stretch_percentile"]
    if h.get("per_image_range", True):
        lo = np.percentile(out, p, axis=(1, 2), keepdims=True) if p > 0 else out.min(axis=(1, 2), keepdims=True)
        hi = np.percentile(out, 100 - p, axis=(1, 2), keepdims=True) if p > 0 else out.max(axis=(1, 2), keepdims=True)
    else:
        lo, hi = np.percentile(out, max(p, 0.05)), np.percentile(out, 100 - max(p, 0.05))
    scaled = np.clip((out - lo) / np.maximum(hi - lo, 1e-12) * 255.0, 0, 255)
    eight = np.round(scaled).astype(np.uint8)
    if h["style"] == "jpeg":
        from PIL import Image

        frames = []
        for frame in eight:
            buf = io.BytesIO()
            Image.fromarray(frame).save(buf, format="JPEG", quality=h["jpeg_quality"])
            buf.seek(0)
            frames.append(np.asarray(Image.open(buf).convert("L")))
        eight = np.stack(frames)
    return eight.astype(np.float32)


def _metadata(rng: np.random.Generator, truth: list[LabClass], counts: np.ndarray, spec: LabJobSpec) -> dict:
    """RELION's per-class columns as a lab's job would show them (estimates with scatter)."""
    k = len(truth)
    res = np.array([c.resolution_a for c in truth])
    nyquist = 2 * spec.pixel_size
    est_res = np.where(np.isfinite(res), np.maximum(res * rng.lognormal(0, 0.15, k), nyquist), 999.0)
    quality = np.clip((40.0 - np.minimum(est_res, 40.0)) / 35.0, 0, 1)
    acc_rot = np.where(counts > 0, np.exp(np.log(30) - quality * np.log(15) + rng.normal(0, 0.4, k)), 999.0)
    acc_trans = np.where(counts > 0, spec.pixel_size * np.exp(np.log(4) - quality * np.log(5) + rng.normal(0, 0.4, k)), 999.0)
    completeness = np.where(counts > 0, np.clip(0.6 + 0.4 * quality + rng.normal(0, 0.05, k), 0, 1), 0.0)
    return {
        "rlnClassDistribution": counts / max(counts.sum(), 1),
        "rlnAccuracyRotations": acc_rot, "rlnAccuracyTranslationsAngst": acc_trans,
        "rlnEstimatedResolution": est_res, "rlnOverallFourierCompleteness": completeness,
    }


def simulate_job(spec: LabJobSpec, junk_kinds: dict[str, float] | None = None) -> tuple[ClassSet, list[LabClass]]:
    """All classes of one job as a :class:`ClassSet` (images, metadata, counts) and their truth.

    ``junk_kinds``: the junk mix {kind: weight} (default :data:`JUNK_KINDS`; ``stripes``, parallel
    stripes as in real streaked classes, is only drawn when asked for, so the default corpus is unchanged)."""
    rng = np.random.default_rng([spec.seed, 11])
    sim = _JobSimulator(spec, rng)
    k = spec.n_classes
    n_junk = int(round(k * spec.junk_fraction))
    mix = JUNK_KINDS if junk_kinds is None else junk_kinds
    junk_names, junk_p = list(mix), np.array(list(mix.values()))
    kinds = [PARTICLE] * (k - n_junk) + [str(j) for j in rng.choice(junk_names, size=n_junk, p=junk_p / junk_p.sum())]
    kinds = [kinds[i] for i in rng.permutation(k)]
    counts = _class_counts(rng, spec, kinds)
    sigmas = [sim.noise_sigma(m) for m in sim.models]
    scales = []
    for m in sim.models:  # mean particle density, for junk signals of comparable strength
        img = sim._real(sim.particle_signal(m, sim._random_rotation(), 0.0, 0.0, n_sub=1))
        scales.append(float(np.abs(img[sim.radius_px <= sim.particle_radius_px]).mean()))
    images, truth = [], []
    for kind, n in zip(kinds, counts):
        mi = int(rng.integers(len(sim.models)))
        model = sim.models[mi]
        if kind == PARTICLE:
            # misalignment shrinks as classes grow (better references), as in real jobs
            # residual angular error: a rim displacement of 0.5-2.5 A (times 0.6-1.6), so large particles
            # align to a fraction of a degree and small ones to a few degrees, as in RELION's accuracies
            quality = np.clip(np.log10(max(n, 1)) / 4.0, 0, 1)
            rim = float(rng.uniform(0.5, 2.5) * (1.6 - quality))
            ang = float(np.rad2deg(rim / (0.5 * model.diameter_a)))
            shift = float(rng.uniform(0.3, 1.5) * (1.6 - quality) * spec.pixel_size)
            signal, purity, extra_b = sim.particle_signal(model, sim._random_rotation(model), ang, shift), 1.0, 0.0
            signal = sim.recentre(signal)
            if rng.random() < MODERATE_VIEW_FRACTION:  # flexible or preferred-against views: blurred to a target
                target_a = float(rng.uniform(*MODERATE_RESOLUTION_DIAMETER)) * model.diameter_a
                extra_b = MODERATE_B_PER_A2 * target_a**2
        elif kind == "empty":
            signal, purity, extra_b = np.zeros_like(sim.grid.k, dtype=complex), 0.0, 0.0
        else:
            signal, purity, extra_b = sim.junk_signal(kind, model, scales[mi])
        image, resolution = sim.average(signal, int(n), sigmas[mi], extra_b)
        if n > 0:
            image = image + sim.clutter(scales[mi])
        if kind == "streaky":  # over-fitted noise: few particles, amplified high frequencies
            image = image + sim._real(sim._spectrum(rng.normal(0, 1, image.shape)) * np.sqrt(sim.ctf2)) * sigmas[mi] / np.sqrt(max(n, 1))
            resolution = float("inf")
        good = label_is_good(kind, purity, resolution, spec.pixel_size, model.diameter_a)
        images.append(sim.zero_solvent(image))
        truth.append(LabClass(kind, int(n), float(purity), float(resolution), bool(good), model.name))
    stack = _apply_handover(np.stack(images), spec, rng)
    h = spec.handover
    if h["metadata"] == "bare":
        pixel = spec.pixel_size * spec.box / stack.shape[-1] if h["header_pixel_size"] else None
        classes = ClassSet(dimensionality=2, class_numbers=np.arange(1, k + 1), images=stack, pixel_size=pixel,
                           source=f"lab_classes seed {spec.seed} (bare stack)")
    else:
        classes = ClassSet(
            dimensionality=2, class_numbers=np.arange(1, k + 1), images=stack, pixel_size=spec.pixel_size,
            particle_diameter=float(spec.diameter_a * rng.uniform(1.05, 1.25)),
            metadata=_metadata(rng, truth, counts, spec), particle_counts=counts,
            source=f"lab_classes seed {spec.seed}",
        )
    return classes, truth
