"""Lab-like 2D class averages from atomic models, formed analytically (the fast path).

A lab's Class2D job holds tens to hundreds of classes of 20-50,000 particles each, in a
64-400 px box at 0.8-4.5 A/px; good classes of many particles are sharp enough to show
alpha-helices and RNA grooves. Simulating each particle at that scale would take hours per job,
so each class average is formed in closed form, the way a CTF-weighted (Wiener) average of N
aligned images behaves:

    F_avg(k) = [N <CTF^2>(k) E(k) S(k) + sqrt(N <CTF^2>(k)) sigma_n xi(k)] / [N <CTF^2>(k) + tau(k)]

* ``S`` is the class's clean signal: the mean of a few projections of the atomic model at views
  jittered by the class's angular misalignment (so out-of-plane spread and in-plane rotation
  errors blur it as they do in real classes); junk kinds have their own signals (:mod:`.lab_junk`).
* ``<CTF^2>`` is averaged over the job's defocus range, ``E`` is the B-factor and
  translational-misalignment envelope; the lowest frequencies are under-restored by a per-job factor
  (the dark halo round real classes), and the solvent is brought to zero as particle normalisation does.
* ``tau = sigma_n^2 / (fudge * |S|^2)`` regularises like RELION's tau2; noise shrinks as 1/sqrt(N).

The pieces: :mod:`.lab_models` (the atomic models as weighted points), :mod:`.lab_averaging` (one job's
shared optics and the average of a class), :mod:`.lab_junk` (one function per junk kind); this module draws a
job, assembles its classes and hands them over.

Junk as labs see it: ice and contamination, carbon edges, aggregates, neighbouring and clipped
particles, featureless blobs, noise attractors, streaky over-fitted classes, partly good mixtures,
blurred classes of many particles that do not average (heterogeneous or misaligned) and empty
classes (:mod:`.lab_junk`). Then a hand-over style (RELION float, zero-masked or not; 8-bit export with
contrast stretch; JPEG artefacts) is applied to the whole job, as a lab would export it.

Labels follow what a person sees: a class is good when it is a particle view (purity >= 0.75,
not clipped, not an aggregate) whose resolution shows detail for its size: 12 A (secondary
structure), three pixels (binned data) or a ninth of the particle's diameter (large
complexes), whichever is coarsest (:func:`.truth.label_is_good`; relative to the job:
:func:`.truth.job_relative_labels`). Every random choice comes from one seed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from relion_cryodiscovery.data.masks import soft_disc
from relion_cryodiscovery.relion.classes import ClassSet

from .lab_averaging import JobSimulator, LabJobSpec
from .lab_junk import JUNK_KINDS, junk_signal
from .lab_models import point_model
from .truth import PARTICLE, label_is_good

#: Version of the simulator (written into corpus summaries). 2: solvent at zero, deeper and wider halos set
#: against the real sets, mostly masked hand-over, lumpy blobs, speckled over-fitted classes, mixtures of
#: similar size (``scripts/research/realism_stats.py``; docs/corpus.md). 3 (low-pass at resolution, soft mask edges) was
#: tried and not kept. 4: simulator 2 plus moderate-resolution particle views (``MODERATE_VIEW_FRACTION``).
SIMULATOR_VERSION = 4
#: Options of :func:`random_job_spec`, off by default (so the shipped corpus recipe reproduces simulator 4's
#: corpus): ``tight_box_fraction``, the share of jobs boxed tightly (the particle fills 85-100% of the box, as
#: the real SLICEM mixture's larger complex does), and ``unequal_mixture_fraction``, the share of mixtures whose
#: complexes differ up to threefold in size. A corpus with 0.12 and 0.5 was trained on and not adopted
#: (docs/model_card_notes.md, "After 0.8.0").
TIGHT_BOX_FRACTION = 0.12
UNEQUAL_MIXTURE_FRACTION = 0.5
#: Share of particle views resolved only to 3-8% of the particle's diameter (flexible complexes, sparse or
#: poorly aligning views): real Class2D jobs of large complexes hold many good classes at 10-20 A, which
#: simulator 2 hardly made (its misalignment shrinks with class size), and the model rejected such real
#: classes (himena-relion job065 ring views). The extra B is ``MODERATE_B_PER_A2 * target**2``, about what
#: pushes the spectral SNR from ~100 to 1 at the target; the label still comes from the measured resolution.
MODERATE_VIEW_FRACTION = 0.3
MODERATE_RESOLUTION_DIAMETER = (0.03, 0.08)
MODERATE_B_PER_A2 = 9.2


@dataclass
class LabClass:
    """Truth of one simulated class."""

    kind: str
    n_particles: int
    purity: float
    resolution_a: float
    good: bool
    model: str


def _box_for(rng: np.random.Generator, diameter_a: float, tight_fraction: float = 0.0) -> tuple[int, float]:
    """Box 64-400 px and pixel size 0.8-4.5 A with the particle filling 45-72% of the box in most jobs (labs
    box particles at about 1.4-2.2 times their diameter), 35-85% in some, and 85-100% in ``tight_fraction``
    of them (a lab that boxes close, or a mixture's box sized for a smaller complex)."""
    for _ in range(100):
        draw = rng.random()
        if draw < tight_fraction:
            fill = rng.uniform(0.85, 1.0)
        elif draw < tight_fraction + 0.15:
            fill = rng.uniform(0.35, 0.85)
        else:
            fill = rng.uniform(0.45, 0.72)
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


def random_job_spec(rng: np.random.Generator, seed: int, models: list[str], tight_box_fraction: float = 0.0,
                    unequal_mixture_fraction: float = 0.0) -> LabJobSpec:
    """Draw one job: one structure (or a mixture of 2-5), geometry, counts, imaging. The two fractions (off by
    default; :data:`TIGHT_BOX_FRACTION`, :data:`UNEQUAL_MIXTURE_FRACTION`) add tightly boxed jobs and mixtures of
    unequal size."""
    n_structures = int(rng.choice([1, 2, 3, 5], p=[0.75, 0.12, 0.08, 0.05]))
    first = str(rng.choice(models))
    # a mixture holds complexes of similar size (one box and mask suit them all), or, when asked for,
    # complexes up to threefold apart in size (the smaller ones fill little of the box)
    d0 = point_model(first).diameter_a
    unequal = n_structures > 1 and unequal_mixture_fraction > 0 and rng.random() < unequal_mixture_fraction
    low = 0.33 if unequal else 0.6
    partners = [m for m in models if m != first and low <= point_model(m).diameter_a / d0 <= 1.6]
    others = rng.choice(partners, size=min(n_structures - 1, len(partners)), replace=False) if partners else []
    chosen = [first] + [str(m) for m in others]
    diameter = max(point_model(m).diameter_a for m in chosen)
    box, px = _box_for(rng, diameter, tight_box_fraction)
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
    sim = JobSimulator(spec, rng)
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
        img = sim.real(sim.particle_signal(m, sim.random_rotation(), 0.0, 0.0, n_sub=1))
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
            signal, purity, extra_b = sim.particle_signal(model, sim.random_rotation(model), ang, shift), 1.0, 0.0
            signal = sim.recentre(signal)
            if rng.random() < MODERATE_VIEW_FRACTION:  # flexible or preferred-against views: blurred to a target
                target_a = float(rng.uniform(*MODERATE_RESOLUTION_DIAMETER)) * model.diameter_a
                extra_b = MODERATE_B_PER_A2 * target_a**2
        else:
            signal, purity, extra_b = junk_signal(sim, kind, model, scales[mi])
        image, resolution = sim.average(signal, int(n), sigmas[mi], extra_b)
        if n > 0:
            image = image + sim.clutter(scales[mi])
        if kind == "streaky":  # over-fitted noise: few particles, amplified high frequencies
            image = image + sim.real(sim.spectrum(rng.normal(0, 1, image.shape)) * np.sqrt(sim.ctf2)) * sigmas[mi] / np.sqrt(max(n, 1))
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
