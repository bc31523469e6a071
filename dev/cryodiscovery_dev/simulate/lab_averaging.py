"""One lab-like job's class averages formed in closed form: the Wiener average of N aligned particles.

    F_avg(k) = [N <CTF^2>(k) E(k) S(k) + sqrt(N <CTF^2>(k)) sigma_n xi(k)] / [N <CTF^2>(k) + tau(k)]

(:mod:`.lab_classes` has the whole model.) :class:`JobSimulator` holds what every class of one job shares
(its frequency grid, the CTF^2 averaged over its defocus range, its dark halo, centring and clutter, its random
generator) and forms a class's clean signal (:meth:`~JobSimulator.particle_signal`: projections of a
:class:`~.lab_models.PointModel` at jittered views) and its average (:meth:`~JobSimulator.average`). The junk
kinds' signals are in :mod:`.lab_junk`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import fft, ndimage
from scipy.spatial.transform import Rotation

from .ctf import CtfParams, ctf_values, frequency_grid
from .lab_models import PointModel, point_model
from .point_model import splat

#: RELION's tau2_fudge for 2D classification.
TAU_FUDGE = 2.0
#: Depth (fraction of low-frequency amplitude removed at k = 0) and width (in k D) of the dark halo.
#: Set against the real sets' displayed classes (``scripts/research/realism_stats.py``): corner grey level and dark fraction.
HALO_DEPTH = (0.4, 1.0)
HALO_WIDTH_KD = (0.8, 2.0)


@dataclass
class LabJobSpec:
    """Random choices that define one simulated lab job (drawn by :func:`.lab_classes.random_job_spec`)."""

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
        acc += splat((model.xyz @ mat.T)[:, :2] / grid.pixel_size, model.weights, (grid.box, grid.box),
                     sum_per_corner=True)
    spec = fft.rfft2(fft.ifftshift(acc / len(mats)))
    return spec * grid.splat_correction * model.form_factor(grid.k, bfactor)


def shift_spectrum(spec: np.ndarray, grid: JobGrid, dx_px: float, dy_px: float) -> np.ndarray:
    """``spec`` moved by (dx, dy) px."""
    phase = np.exp(-2j * np.pi * (grid.kx * dx_px + grid.ky * dy_px) * grid.pixel_size)
    return spec * phase


class JobSimulator:
    """Forms every class of one job (its random draws in the order the job makes them)."""

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

    def particle_signal(self, model: PointModel, rot: Rotation, angular_error: float, shift_error_a: float,
                        n_sub: int = 4) -> np.ndarray:
        """Class signal: mean of ``n_sub`` projections at views jittered by ``angular_error`` (deg)."""
        jitter = Rotation.from_rotvec(self.rng.normal(0, np.deg2rad(angular_error), (n_sub, 3)))
        spec = project(model, jitter * rot, self.grid, self.spec.bfactor)
        envelope = np.exp(-2 * np.pi**2 * shift_error_a**2 * self.grid.k**2)
        return spec * envelope

    def random_rotation(self, model: PointModel | None = None) -> Rotation:
        """A uniform random orientation; filament segments are only seen side on (helical picking)."""
        if model is None or model.shape != "filament":
            return Rotation.random(random_state=self.rng.integers(2**31))
        spin = Rotation.from_rotvec(model.axis * self.rng.uniform(0, 2 * np.pi))
        angle = self.rng.uniform(0, 2 * np.pi)
        target = np.array([[np.cos(angle), np.sin(angle), 0.0]])
        align = Rotation.align_vectors(target, model.axis[None])[0]
        return align * spin

    def real(self, spec: np.ndarray) -> np.ndarray:
        """The image (origin at the box centre) of a half-plane spectrum."""
        return fft.fftshift(fft.irfft2(spec, s=(self.spec.box, self.spec.box)))

    def spectrum(self, image: np.ndarray) -> np.ndarray:
        """The half-plane spectrum of an image (origin at the box centre)."""
        return fft.rfft2(fft.ifftshift(image))

    def smooth_noise(self, sigma_px: float) -> np.ndarray:
        """White noise of the box, blurred by a Gaussian of ``sigma_px``."""
        return ndimage.gaussian_filter(self.rng.normal(0, 1, (self.spec.box,) * 2), sigma_px)

    def average(self, signal: np.ndarray, n: int, noise_sigma: float, extra_b: float) -> tuple[np.ndarray, float]:
        """Wiener average of ``n`` particles of clean spectrum ``signal``; returns image, resolution (A)."""
        g = self.grid
        if n == 0:
            noise = self.spectrum(self.rng.normal(0, 1e-3 * noise_sigma, (g.box, g.box)))
            return self.real(noise * np.exp(-((g.k * 40.0) ** 2))), float("inf")
        signal = signal * np.exp(-extra_b / 4.0 * g.k**2)
        power = g.radial_mean(np.abs(signal) ** 2)
        noise_power = noise_sigma**2 * g.box * g.box
        nc2 = n * self.ctf2
        tau = noise_power / (TAU_FUDGE * power + 1e-30)
        xi = self.spectrum(self.rng.normal(0, noise_sigma, (g.box, g.box)))
        f = (nc2 * signal + np.sqrt(nc2) * xi) / (nc2 + tau) * self.low_cut
        f[0, 0] = 0.0
        ssnr = g.radial_profile(nc2 * power / noise_power)
        ok = ssnr[1:] >= 1.0  # the class's spectral SNR (FRC ~ 0.5 between half-sets)
        last = int(np.flatnonzero(ok).max()) + 1 if ok.any() else 1
        resolution = g.box * g.pixel_size / max(last, 1)
        if self.sharpen_b > 0:
            f = f * np.exp(self.sharpen_b / 4.0 * np.minimum(g.k, 1.0 / resolution) ** 2)
        return self.real(f), float(resolution)

    def zero_solvent(self, image: np.ndarray) -> np.ndarray:
        """Solvent at zero, as particles normalised to a zero-mean background average (RELION, cryoSPARC),
        up to a small residual offset: the mask's edge barely shows. Where the particle leaves no solvent
        (a box the particle fills beyond 85%), the level comes from RELION's background ring (outside 75% of the
        half box)."""
        inner = 1.1 * self.particle_radius_px
        if inner > 0.47 * self.spec.box:
            inner = 0.375 * self.spec.box
        solvent = (self.radius_px > inner) & (self.radius_px < 0.5 * self.spec.box)
        level = float(image[solvent].mean()) if solvent.any() else 0.0
        return image - level + self.rng.normal(0, 0.05) * float(image.std())

    def recentre(self, spectrum: np.ndarray) -> np.ndarray:
        """A class is centred only roughly (centre of mass, alignment drift): a small random offset."""
        dx, dy = self.rng.normal(0, self.centring * self.spec.box, 2)
        return shift_spectrum(spectrum, self.grid, dx, dy)

    def clutter(self, scale: float) -> np.ndarray:
        """Solvent that does not average away: neighbours' density, ice gradients, a smooth field
        whose strength is a fraction of the particle's and does not shrink with the class size."""
        sigma = max(1.0, self.particle_radius_px * self.rng.uniform(0.15, 0.6))
        field = self.smooth_noise(sigma)
        return field / max(field.std(), 1e-12) * scale * self.clutter_level

    def noise_sigma(self, model: PointModel) -> float:
        """Per-particle noise for the job's SNR (signal variance of a CTF-modulated view, in the particle disc)."""
        if model.name not in self.reference_power:
            spec = self.particle_signal(model, self.random_rotation(), 0.0, 0.0, n_sub=1)
            img = self.real(spec * np.sqrt(self.ctf2))
            self.reference_power[model.name] = float(img[self.radius_px <= self.particle_radius_px].var())
        snr = self.spec.snr * (model.diameter_a / 100.0) ** 2 * self.spec.pixel_size**2
        return float(np.sqrt(self.reference_power[model.name] / snr))
