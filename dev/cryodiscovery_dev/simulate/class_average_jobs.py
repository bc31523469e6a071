"""Fast producer of labelled, RELION-looking Class2D jobs for the training corpus.

No relion_refine is run. For each job, particles are simulated as metadata only (kind, view,
CTF, micrograph), grouped the way 2D classification groups them (true particles by viewing
direction, junk by kind, with some cross-contamination), and each class average is formed from
a sample of its members: their clean images, in-plane aligned with small random rotation/shift
errors, Wiener-filtered for the members' CTFs with noise scaled to the class size, low-passed at
the job's resolution and masked like RELION's ``--zero_mask``. Each job is a small RELION project
(``Class2D/job001/`` + ``Select/job002/`` + ``default_pipeline.star``); the Select job's
``backup_selection.star`` holds the ground-truth labels (see :mod:`.truth`).
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import fft

from relion_cryodiscovery.data.masks import soft_disc
from .ctf import CtfParams, ctf_values, frequency_grid
from .imaging import blob_transfer, crop_centre
from .kinds import GOOD_KIND, JUNK_KINDS, RenderContext, render, render_particle
from .orientations import euler_to_matrix, sample_orientations, view_direction
from .particles import ParticleConfig, kinds_and_structures, micrograph_ctfs, relion_tables
from .relion_files import (NODE_2DREFS, NODE_MODEL, NODE_PART_DATA, PROC_CLASS2D, PROC_SELECT, image_names,
                           write_pipeline, write_select_job, write_star, write_stack)
from .structures import STRUCTURE_KINDS, make_structure
from .truth import LABEL_RULE, class_table

ITER = 25
JOB, SELECT = "Class2D/job001/", "Select/job002/"
#: Members rendered per class average (the noise still scales with the full class size).
MAX_MEMBERS = 10
#: Wiener regularisation relative to the per-particle SNR (RELION's tau2_fudge = 2).
TAU_FUDGE = 2.0


@dataclass
class FakeJobSpec:
    """Random choices that define one fake Class2D job."""

    seed: int
    structure_kind: str
    mass_kda: float
    pixel_size: float
    box: int
    n_classes: int
    n_particles: int
    good_fraction: float
    snr: float
    voltage: float
    preferred_fraction: float
    n_empty_classes: int
    leak: float
    align_error_deg: float
    shift_error_px: float


def _box_and_pixel(rng: np.random.Generator, diameter_a: float) -> tuple[int, float]:
    """Box 48-128 px and pixel size 1-4.5 A as a lab would choose (box ~1.5-2.2x the particle,
    downsampled when the box would exceed 128 px)."""
    px = float(rng.uniform(1.0, 4.5))
    want = rng.uniform(1.5, 2.2) * diameter_a / px
    if want > 128:
        px = min(4.5, px * want / rng.choice([64, 96, 128]))
        want = rng.uniform(1.5, 2.2) * diameter_a / px
    box = int(np.clip(2 * round(want / 2), 48, 128))
    return box, round(px, 3)


def random_spec(rng: np.random.Generator, seed: int) -> FakeJobSpec:
    """Draw the parameters of one fake job."""
    kind = str(rng.choice(STRUCTURE_KINDS))
    mass = float(np.exp(rng.uniform(np.log(50), np.log(1000))))
    diameter = make_structure(kind, mass, seed).provenance["max_diameter_A"]
    box, px = _box_and_pixel(rng, diameter)
    k = int(rng.integers(20, 101))
    return FakeJobSpec(
        seed=seed, structure_kind=kind, mass_kda=round(mass, 1), pixel_size=px, box=box, n_classes=k,
        n_particles=int(rng.integers(20, 150) * k), good_fraction=round(float(rng.uniform(0.1, 0.8)), 3),
        snr=round(float(np.exp(rng.uniform(np.log(0.01), np.log(0.1)))), 4), voltage=float(rng.choice([200.0, 300.0])),
        preferred_fraction=float(rng.choice([0.0, 0.0, rng.uniform(0.2, 0.8)])),
        n_empty_classes=int(rng.binomial(k, 0.05)), leak=float(rng.uniform(0.02, 0.2)),
        align_error_deg=float(rng.uniform(1.0, 6.0)), shift_error_px=float(rng.uniform(0.2, 1.0)),
    )


def _inplane_alignment(member: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """psi that best aligns each member view (rot, tilt) to the class reference (rot, tilt, psi)."""
    a_c = euler_to_matrix(*centre)
    a_m = euler_to_matrix(member[:, 0], member[:, 1], np.zeros(len(member)))
    m = a_c @ np.transpose(a_m, (0, 2, 1))
    return np.rad2deg(np.arctan2(m[:, 0, 1] - m[:, 1, 0], m[:, 0, 0] + m[:, 1, 1]))


def _view_classes(rng: np.random.Generator, angles: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Assign particles to k view classes: half the centres follow the view density, half are
    spread out (farthest-point), so rare views get small classes. Returns labels, centre angles."""
    dirs = view_direction(angles[:, 0], angles[:, 1])
    k = min(k, len(angles))
    chosen = list(rng.choice(len(angles), size=max(1, k // 2), replace=False))
    while len(chosen) < k:
        d = (dirs @ dirs[chosen].T).max(1)
        chosen.append(int(np.argmin(d)))
    labels = np.argmax(dirs @ dirs[chosen].T, axis=1)
    centres = np.column_stack([angles[chosen, :2], rng.uniform(0, 360, k)])
    return labels, centres


def _allocate(rng: np.random.Generator, spec: FakeJobSpec, kinds: np.ndarray, angles: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Class number (1-based) of every particle and a description of every class."""
    k = spec.n_classes
    n_empty = min(spec.n_empty_classes, k - 2)
    present = [j for j in JUNK_KINDS if (kinds == j).any()]
    share = 1 - (kinds == GOOD_KIND).mean()
    k_junk = int(np.clip(round((k - n_empty) * (0.15 + 0.7 * share)), len(present) or 0, k - n_empty - 1))
    k_good = k - n_empty - k_junk
    classes: list[dict] = []
    cls = np.zeros(len(kinds), int)
    good = np.flatnonzero(kinds == GOOD_KIND)
    labels, centres = _view_classes(rng, angles[good], k_good)
    cls[good] = labels
    classes += [{"kind": GOOD_KIND, "centre": c} for c in centres]
    counts = np.array([(kinds == j).sum() for j in present], float)
    per_kind = np.ones(len(present), int) + rng.multinomial(max(0, k_junk - len(present)), counts / counts.sum()) if present else []
    for j, m in zip(present, per_kind):
        idx = np.flatnonzero(kinds == j)
        cls[idx] = len(classes) + rng.integers(0, m, len(idx))
        classes += [{"kind": j, "align": float(rng.uniform(0, 360))} for _ in range(m)]
    classes += [{"kind": "empty_class"} for _ in range(n_empty)]
    # Cross-contamination: some junk lands in particle classes and some particles in junk classes.
    junk = np.flatnonzero(kinds != GOOD_KIND)
    moved = junk[rng.random(len(junk)) < spec.leak]
    cls[moved] = rng.integers(0, k_good, len(moved))
    if k_junk:
        lost = good[rng.random(len(good)) < spec.leak / 3]
        cls[lost] = k_good + rng.integers(0, k_junk, len(lost))
    order = rng.permutation(k)  # RELION's class order is arbitrary
    inverse = np.argsort(order)
    return inverse[cls] + 1, [classes[i] for i in order]


class _Averager:
    """Forms class averages for one job (shared grids, mask, context)."""

    def __init__(self, spec: FakeJobSpec, ctx: RenderContext, ctfs: list[CtfParams], resolution_a: float, diameter_a: float):
        self.spec, self.ctx, self.ctfs = spec, ctx, ctfs
        box = spec.box
        self.kx, self.ky = frequency_grid(box, spec.pixel_size, half=True)
        k = np.hypot(self.kx, self.ky)
        self.shell = np.round(k * box * spec.pixel_size).astype(int)
        self.lowpass = 1.0 / (1.0 + np.exp((k - 1.0 / resolution_a) * box * spec.pixel_size))
        self.blob = blob_transfer(box, spec.pixel_size, ctx.structure.blob_sigma)
        self.mask = soft_disc(box, diameter_a / 2 / spec.pixel_size, 3.0)

    def _signal(self, rng: np.random.Generator, cls: dict, members: np.ndarray, kinds: np.ndarray, angles: np.ndarray) -> np.ndarray:
        """Mean clean image of a sample of members, each aligned to the class (with errors)."""
        s, ctx = self.spec, self.ctx
        acc = np.zeros((ctx.canvas, ctx.canvas))
        sample = rng.choice(members, size=min(MAX_MEMBERS, len(members)), replace=False)
        for i in sample:
            err = rng.normal(0, s.shift_error_px, 2)
            if kinds[i] == GOOD_KIND and cls["kind"] == GOOD_KIND:
                psi = _inplane_alignment(angles[i:i + 1], cls["centre"])[0] + rng.normal(0, s.align_error_deg)
                acc += render_particle(ctx, rng, shift_px=err, angles=(angles[i, 0], angles[i, 1], psi))[0]
            else:
                acc += render(str(kinds[i]), ctx, rng, align=cls.get("align"))[0]
        return crop_centre(acc / len(sample), s.box)

    def _radial_power(self, f: np.ndarray) -> np.ndarray:
        """Rotationally averaged |f|^2 spread back onto the rfft grid."""
        power = np.bincount(self.shell.ravel(), (np.abs(f) ** 2).ravel()) / np.maximum(np.bincount(self.shell.ravel()), 1)
        return power[self.shell]

    def average(self, rng: np.random.Generator, cls: dict, members: np.ndarray, kinds: np.ndarray,
                angles: np.ndarray, noise_sigma: float) -> np.ndarray:
        """Wiener-filtered class average of ``members``: signal from a sample of members, noise and
        CTF weighting for the full class size, regularised by the signal's power spectrum."""
        n = len(members)
        box = self.spec.box
        if n == 0:  # an empty class keeps a faint, blurred reference
            f = fft.rfft2(rng.normal(0, 0.05 * noise_sigma, (box, box))) * self.lowpass**8
            return (fft.irfft2(f, s=(box, box)) * self.mask).astype(np.float32)
        some = rng.choice(members, size=min(32, n), replace=False)
        ctf2 = np.mean([ctf_values(self.kx, self.ky, self.ctfs[i]) ** 2 for i in some], axis=0)
        sig = fft.rfft2(self._signal(rng, cls, members, kinds, angles)) * self.blob
        noise_power = noise_sigma**2 * box * box  # per Fourier coefficient of white noise
        tau = noise_power / (TAU_FUDGE * self._radial_power(sig) + 1e-30)
        noise = fft.rfft2(rng.normal(0, noise_sigma, (box, box)))
        f = (n * ctf2 * sig + np.sqrt(n * ctf2) * noise) / (n * ctf2 + tau) * self.lowpass
        return (fft.irfft2(f, s=(box, box)) * self.mask).astype(np.float32)


def _signal_std(ctx: RenderContext, rng: np.random.Generator, n: int = 8) -> float:
    """Standard deviation over the box of blob-blurred particle projections (for the SNR)."""
    blob = blob_transfer(ctx.canvas, ctx.pixel_size, ctx.structure.blob_sigma)
    imgs = [fft.irfft2(fft.rfft2(render_particle(ctx, rng)[0]) * blob, s=(ctx.canvas,) * 2) for _ in range(n)]
    return float(np.mean([crop_centre(i, ctx.box).std() for i in imgs]))


def _class_metadata(rng: np.random.Generator, classes: list[dict], table: pd.DataFrame, spec: FakeJobSpec,
                    n_total: int, resolution: float) -> pd.DataFrame:
    """model_classes columns derived from class content: better accuracy/resolution for pure
    particle classes, worse for junk, 999 accuracies for (nearly) empty ones."""
    px, rows = spec.pixel_size, []
    nyquist = 2 * px
    for c, row in zip(classes, table.itertuples(index=False)):
        n, purity = row.n_particles, row.purity
        quality = purity * (1 - np.exp(-n / 30.0))  # 0 junk/empty .. 1 large pure class
        empty = n < 2
        res = resolution / max(0.35, quality) * rng.uniform(1.0, 1.25)
        rows.append({
            "rlnClassDistribution": n / n_total,
            "rlnAccuracyRotations": 999.0 if empty else round(float(2.0 + 25 * (1 - quality) * rng.uniform(0.6, 1.4)), 2),
            "rlnAccuracyTranslationsAngst": 999.0 if empty else round(float(px * (0.4 + 3 * (1 - quality)) * rng.uniform(0.7, 1.3)), 3),
            "rlnEstimatedResolution": float(max(nyquist, min(res, 60.0 * rng.uniform(0.8, 1.2)))),
            "rlnOverallFourierCompleteness": float(np.clip(rng.normal(0.75 + 0.25 * quality, 0.05), 0, 1)) if not empty else float(rng.uniform(0.8, 1.0)),
            "rlnClassPriorOffsetX": float(rng.normal(0, 0.05 + 0.5 * (1 - quality))),
            "rlnClassPriorOffsetY": float(rng.normal(0, 0.05 + 0.5 * (1 - quality))),
        })
    return pd.DataFrame(rows)


def _data_table(rng: np.random.Generator, spec: FakeJobSpec, base: pd.DataFrame, cls: np.ndarray,
                kinds: np.ndarray) -> pd.DataFrame:
    """run_it025_data.star particles: the input columns plus what Class2D adds."""
    n = len(cls)
    good = kinds == GOOD_KIND
    pmax = np.where(good, rng.beta(4, 2, n), rng.beta(1.5, 4, n))
    data = base.copy()
    data["rlnGroupNumber"] = data["rlnMicrographName"].str.extract(r"(\d+)")[0].astype(int) + 1
    data["rlnAngleRot"] = 0.0
    data["rlnAngleTilt"] = 0.0
    data["rlnAnglePsi"] = rng.uniform(-180, 180, n).round(6)
    data["rlnOriginXAngst"] = (rng.normal(0, 1.5, n) * spec.pixel_size).round(6)
    data["rlnOriginYAngst"] = (rng.normal(0, 1.5, n) * spec.pixel_size).round(6)
    data["rlnClassNumber"] = cls
    data["rlnNormCorrection"] = rng.normal(0.8, 0.1, n).round(6)
    data["rlnLogLikeliContribution"] = (rng.normal(3e4, 2e3, n) * (spec.box / 64) ** 2).round(3)
    data["rlnMaxValueProbDistribution"] = pmax.round(6)
    data["rlnNrOfSignificantSamples"] = np.maximum(1, np.round(1 / np.maximum(pmax, 0.01) ** 1.5)).astype(int)
    return data


def make_fake_class2d_job(project: str | Path, spec: FakeJobSpec) -> pd.DataFrame:
    """Write one fake Class2D + Select project under ``project``; return its class labels."""
    project = Path(project)
    rng = np.random.default_rng(spec.seed)
    structure = make_structure(spec.structure_kind, spec.mass_kda, spec.seed)
    junk_share = rng.dirichlet(np.ones(len(JUNK_KINDS))) * (1 - spec.good_fraction)
    pcfg = ParticleConfig(n_particles=spec.n_particles, box=spec.box, pixel_size=spec.pixel_size, snr=spec.snr,
                          voltage=spec.voltage, particles_per_micrograph=int(rng.integers(30, 200)),
                          junk_fractions=dict(zip(JUNK_KINDS, junk_share * 0.999)),
                          preferred_fraction=spec.preferred_fraction,
                          preferred_view=(float(rng.uniform(0, 360)), float(rng.uniform(0, 180))))
    kinds, _ = kinds_and_structures(rng, pcfg, 1)
    mic, ctfs, _ = micrograph_ctfs(rng, pcfg)
    angles = sample_orientations(rng, spec.n_particles, spec.preferred_fraction, pcfg.preferred_view)
    cls, classes = _allocate(rng, spec, kinds, angles)
    table = class_table(cls, kinds == GOOD_KIND, spec.n_classes)

    diameter = float(min(1.15 * structure.provenance["max_diameter_A"], 0.95 * spec.box * spec.pixel_size))
    resolution = max(2 * spec.pixel_size * 1.05, float(rng.uniform(6, 20)) * (0.05 / spec.snr) ** 0.25)
    ctx = RenderContext(structure, spec.pixel_size, spec.box)
    noise_sigma = _signal_std(ctx, rng) / np.sqrt(spec.snr)
    averager = _Averager(spec, ctx, ctfs, resolution, diameter)
    images = np.stack([averager.average(rng, c, np.flatnonzero(cls == i + 1), kinds, angles, noise_sigma)
                       for i, c in enumerate(classes)])
    images /= max(float(images.std()), 1e-12)

    job = project / JOB
    root = f"{JOB}run_it{ITER:03d}"
    write_stack(project / f"{root}_classes.mrcs", images, spec.pixel_size)
    optics, base = relion_tables(pcfg, mic, ctfs)
    data = _data_table(rng, spec, base, cls, kinds)
    write_star(project / f"{root}_data.star", {"optics": optics, "particles": data})
    model_classes = _class_metadata(rng, classes, table, spec, spec.n_particles, resolution)
    model_classes.insert(0, "rlnReferenceImage", image_names(f"{root}_classes.mrcs", spec.n_classes))
    write_star(project / f"{root}_model.star", {"model_general": _model_general(spec, resolution, data),
                                                "model_classes": model_classes})
    write_star(project / f"{root}_optimiser.star", {"optimiser_general": _optimiser_general(spec, root, diameter)})
    (job / "note.txt").write_text(f"++++ Fake Class2D job written by cryodiscovery_dev.simulate.class_average_jobs\n"
                                  f"++++ (no relion_refine run); spec: {json.dumps(asdict(spec))}\n")
    (job / "RELION_JOB_EXIT_SUCCESS").touch()
    write_select_job(project, SELECT, optics, data, model_classes, table["label"].to_numpy(),
                     f"++++ Select job from ground truth ({LABEL_RULE})\n", write_particles=False)
    _write_project_pipeline(project, root)
    return table.assign(kind=[c["kind"] for c in classes])


def _model_general(spec: FakeJobSpec, resolution: float, data: pd.DataFrame) -> dict:
    return {
        "rlnReferenceDimensionality": 2, "rlnDataDimensionality": 2, "rlnOriginalImageSize": spec.box,
        "rlnCurrentResolution": round(resolution, 6),
        "rlnCurrentImageSize": int(min(spec.box, 2 * round(spec.box * spec.pixel_size / resolution) + 2)),
        "rlnPaddingFactor": 2.0, "rlnIsHelix": 0, "rlnFourierSpaceInterpolator": 1, "rlnMinRadiusNnInterpolation": 10,
        "rlnPixelSize": spec.pixel_size, "rlnNrClasses": spec.n_classes, "rlnNrBodies": 1,
        "rlnNrGroups": int(data["rlnGroupNumber"].max()), "rlnTau2FudgeFactor": TAU_FUDGE,
        "rlnNormCorrectionAverage": round(float(data["rlnNormCorrection"].mean()), 6),
        "rlnSigmaOffsetsAngst": round(1.5 * spec.pixel_size, 6), "rlnOrientationalPriorMode": 0,
        "rlnSigmaPriorRotAngle": 0.0, "rlnSigmaPriorTiltAngle": 0.0, "rlnSigmaPriorPsiAngle": 0.0,
        "rlnLogLikelihood": round(float(data["rlnLogLikeliContribution"].sum()), 3),
        "rlnAveragePmax": round(float(data["rlnMaxValueProbDistribution"].mean()), 6),
    }


def _optimiser_general(spec: FakeJobSpec, root: str, diameter: float) -> dict:
    return {
        "rlnOutputRootName": f"{JOB}run", "rlnModelStarFile": f"{root}_model.star",
        "rlnExperimentalDataStarFile": f"{root}_data.star", "rlnOrientSamplingStarFile": f"{root}_sampling.star",
        "rlnCurrentIteration": ITER, "rlnNumberOfIterations": ITER, "rlnDoSplitRandomHalves": 0,
        "rlnParticleDiameter": round(diameter, 1), "rlnDoCorrectCtf": 1, "rlnDoIgnoreCtfUntilFirstPeak": 0,
        "rlnDoZeroMask": 1, "rlnDoSolventFlattening": 1, "rlnTau2FudgeFactor": TAU_FUDGE,
        "rlnRandomSeed": spec.seed, "rlnOffsetRange": 5.0, "rlnOffsetStep": 2.0, "rlnPsiStep": 12.0,
    }


def _write_project_pipeline(project: Path, root: str) -> None:
    data, model = f"{root}_data.star", f"{root}_model.star"
    parts, avgs = f"{SELECT}particles.star", f"{SELECT}class_averages.star"
    write_pipeline(project / "default_pipeline.star", 3,
                   processes=[(JOB, "None", PROC_CLASS2D, 2), (SELECT, "None", PROC_SELECT, 2)],
                   nodes=[("Simulated/particles.star", NODE_PART_DATA), (data, NODE_PART_DATA), (model, NODE_MODEL),
                          (parts, NODE_PART_DATA), (avgs, NODE_2DREFS)],
                   input_edges=[("Simulated/particles.star", JOB), (model, SELECT)],
                   output_edges=[(JOB, data), (JOB, model), (SELECT, parts), (SELECT, avgs)])


def _corpus_job(args: tuple[Path, int, int]) -> dict:
    out, i, seed = args
    spec = random_spec(np.random.default_rng(seed), seed)
    table = make_fake_class2d_job(out / f"sim{i:04d}", spec)
    return {"project": f"sim{i:04d}", "class2d_job": JOB, "select_job": SELECT,
            "model_star": f"{JOB}run_it{ITER:03d}_model.star", "n_good": int(table["label"].sum()), **asdict(spec)}


def make_corpus(out_dir: str | Path, n_jobs: int, seed: int, workers: int = 1) -> pd.DataFrame:
    """Write ``n_jobs`` fake labelled Class2D projects ``sim0000...`` under ``out_dir`` plus
    ``manifest.csv``. Each job has its own seed drawn from ``seed``, so the output does not depend
    on ``workers`` (processes)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, n_jobs)
    tasks = [(out, i, int(s)) for i, s in enumerate(seeds)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(_corpus_job, tasks))
    else:
        rows = [_corpus_job(t) for t in tasks]
    manifest = pd.DataFrame(rows)
    manifest.to_csv(out / "manifest.csv", index=False)
    return manifest
