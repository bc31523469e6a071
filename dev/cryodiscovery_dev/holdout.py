"""Real RELION projects with ground truth: which structures are held out, and a model's metrics on them.

The corpus of real ``relion_refine`` jobs (:mod:`.corpus_paths`: the bundled example,
``corpus/relion/*``, ``corpus/relion3d/*``) is split **by structure**: every project records its structure in
``ground_truth/simulation.json``, and a structure is held out (test) or not by a stable hash of
its name, so adding projects never moves an old one between train and test. The bundled example is
always held out. The training script, the ablations and the model card all use this one split.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from relion_cryodiscovery.data.preprocess import PreprocessConfig
from relion_cryodiscovery.training.corpus import LabelledJob, LabelledJobSource, discover_project, read_labelled_job

from .corpus_paths import EXAMPLE_PROJECT, real_projects

__all__ = [
    "TEST_FRACTION", "real_projects", "structure_group", "is_held_out", "split_projects", "project_sources",
    "read_projects", "HoldoutScores", "score_holdout", "holdout_metrics", "class_truth", "true_particle_fractions",
    "errors_by_purity", "count_scale_metrics",
]

#: Share of structures held out for testing.
TEST_FRACTION = 0.3


def structure_group(project: Path) -> str:
    """The structure a project's particles were simulated from (the split unit)."""
    summary = json.loads((project / "ground_truth" / "simulation.json").read_text())
    structure = summary.get("structure") or {}
    name = structure.get("name") or structure.get("model") or structure.get("pdb_id")
    if name:
        return f"structure:{name}"
    return f"{structure.get('kind', 'structure')}:{summary.get('seed', project.name)}"


def is_held_out(group: str, test_fraction: float = TEST_FRACTION) -> bool:
    """Stable assignment of a structure to the test split."""
    digest = hashlib.sha256(group.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < test_fraction


def split_projects(projects: list[Path], test_fraction: float = TEST_FRACTION,
                   always_test: tuple[Path, ...] = (EXAMPLE_PROJECT,)) -> tuple[list[Path], list[Path]]:
    """(train, test) projects: held-out structures and the projects in ``always_test`` (the bundled
    example) go to test."""
    always = {path.resolve() for path in always_test}
    train, test = [], []
    for project in projects:
        held_out = project.resolve() in always or is_held_out(structure_group(project), test_fraction)
        (test if held_out else train).append(project)
    return train, test


def project_sources(projects: list[Path]) -> list[LabelledJobSource]:
    """The labelled jobs of the projects, grouped by structure."""
    return [LabelledJobSource(s.job, s.selection, structure_group(p)) for p in projects for s in discover_project(p)]


def read_projects(projects: list[Path], config: PreprocessConfig) -> list[LabelledJob]:
    return [read_labelled_job(source, config) for source in project_sources(projects)]


@dataclass
class HoldoutScores:
    """Usable classes of held-out jobs: truth, calibrated scores, particle counts and the member scores."""

    truth: np.ndarray
    scores: np.ndarray
    particles: np.ndarray
    members: np.ndarray
    image_only_scores: np.ndarray
    image_only_members: np.ndarray


def score_holdout(ensemble, jobs: list[LabelledJob]) -> HoldoutScores:
    """Score held-out jobs with and without their metadata (image only = every metadata feature withheld).

    Job by job, since 2D classes have one view and 3D classes six.
    """
    from relion_cryodiscovery.data.features import withhold_metadata
    from relion_cryodiscovery.model.ensemble import predict_views

    parts: dict[str, list[np.ndarray]] = {k: [] for k in HoldoutScores.__dataclass_fields__}
    rng = np.random.default_rng(0)
    for job in jobs:
        usable = job.inputs.usable
        images, features = job.inputs.images[usable], job.inputs.features[usable]
        image_only = withhold_metadata(features, rng, p_all=1.0, p_each=0.0)
        counts = job.particle_counts if job.particle_counts is not None else np.ones(len(job.labels))
        parts["truth"].append(job.labels[usable])
        parts["particles"].append(counts[usable])
        parts["scores"].append(ensemble.predict(images, features).calibrated)
        parts["image_only_scores"].append(ensemble.predict(images, image_only).calibrated)
        parts["members"].append(predict_views([ensemble.d1, ensemble.d2, ensemble.d3], images, features))
        parts["image_only_members"].append(predict_views([ensemble.d1, ensemble.d2, ensemble.d3], images, image_only))
    return HoldoutScores(**{k: np.concatenate(v) for k, v in parts.items()})


def holdout_metrics(ensemble, jobs: list[LabelledJob]) -> dict:
    """The issue's metrics at the shipped threshold, plus ablations (image only; single members)."""
    from relion_cryodiscovery.evaluation.metrics import classification_metrics

    s = score_holdout(ensemble, jobs)
    selected = s.scores >= ensemble.threshold
    report = classification_metrics(s.truth, selected, s.scores, s.particles).to_dict()
    ablations = {}
    for inputs, combined, members in (("image + metadata", s.scores, s.members),
                                      ("image only", s.image_only_scores, s.image_only_members)):
        variants = {"boosted ensemble": (combined, ensemble.threshold)}
        variants.update({f"d{i + 1} only": (members[:, i], 0.5) for i in range(3)})
        for name, (scores, threshold) in variants.items():
            m = classification_metrics(s.truth, scores >= threshold, scores, s.particles).to_dict()
            ablations[f"{inputs} / {name}"] = {k: m[k] for k in (
                "roc_auc", "accuracy", "false_negative_rate", "ece", "junk_particles_removed", "good_particles_kept")}
            ablations[f"{inputs} / {name}"]["threshold"] = float(threshold)
    report["ablations"] = ablations
    report["operating_points"] = {}
    shipped = float(ensemble.threshold)
    points = [(shipped, 0), (shipped, MIN_PARTICLES_POINT)] + [(t, 0) for t in (0.25, 0.5, 0.75)]
    for threshold, min_particles in points:
        chosen = (s.scores >= threshold) & (s.particles >= min_particles)
        m = classification_metrics(s.truth, chosen, s.scores, s.particles).to_dict()
        name = f"{threshold:.3f}" + (f" + min_particles {min_particles}" if min_particles else "")
        report["operating_points"][name] = {k: m[k] for k in (
            "accuracy", "false_negative_rate", "precision", "junk_particles_removed", "good_particles_kept")}
    dims = np.concatenate([np.full(int(j.inputs.usable.sum()), j.dimensionality) for j in jobs])
    report["by_dimensionality"] = {}
    for dim in sorted(set(dims.tolist())):
        keep = dims == dim
        m = classification_metrics(s.truth[keep], s.scores[keep] >= ensemble.threshold, s.scores[keep],
                                   s.particles[keep]).to_dict()
        report["by_dimensionality"][f"{dim}D"] = {k: m[k] for k in (
            "n_classes", "n_good", "roc_auc", "accuracy", "false_negative_rate", "ece", "junk_particles_removed",
            "good_particles_kept", "precision")}
    report["particle_count_scale"] = count_scale_metrics(ensemble, jobs)
    truth = [class_truth(j) for j in jobs]
    purity, n_particles, n_good = (np.concatenate([t[c] for t in truth])
                                   for c in ("purity", "n_particles", "n_good_particles"))
    report["by_purity"] = errors_by_purity(s.truth, selected, purity)
    known = np.isfinite(n_good) & np.isfinite(n_particles)
    if known.any():
        report["true_particles"] = {
            "model": true_particle_fractions(selected[known], n_particles[known], n_good[known]),
            "oracle": true_particle_fractions(s.truth[known] == 1, n_particles[known], n_good[known]),
            "classes": int(known.sum())}
    report["jobs"] = sorted({str(j.source.job.parents[2]) for j in jobs})
    report["structures"] = len({j.source.group for j in jobs})
    return report


#: The External job's ``min_particles`` of the README's example: the label rule calls a class of fewer
#: than 10 particles bad however pure it is, and a user sets this Param to say the same.
MIN_PARTICLES_POINT = 10

#: Purity bands for the error breakdown: clear junk, the ambiguous middle, and classes labelled good.
PURITY_BANDS = ((0.0, 0.5), (0.5, 0.8), (0.8, 1.0001))


def class_truth(job: LabelledJob) -> dict[str, np.ndarray]:
    """Per usable class: ``purity``, ``n_particles`` and ``n_good_particles`` from the project's
    ``ground_truth/class_labels.csv`` (NaN where the project has none, e.g. a lab's own Select job)."""
    usable = job.inputs.usable
    columns = ("purity", "n_particles", "n_good_particles")
    table = job.source.job.parents[2] / "ground_truth" / "class_labels.csv"
    if not table.is_file():
        return {c: np.full(int(usable.sum()), np.nan) for c in columns}
    import pandas as pd

    labels = pd.read_csv(table).set_index("class_number").reindex(np.arange(1, len(usable) + 1))
    return {c: labels[c].to_numpy(dtype=float)[usable] for c in columns}


def true_particle_fractions(selected: np.ndarray, n_particles: np.ndarray, n_good: np.ndarray) -> dict:
    """Fractions of the truly good particles kept and of the junk particles removed by a class selection,
    counted by each particle's ground truth (not by its class's label)."""
    from relion_cryodiscovery.evaluation.metrics import particle_fractions

    # each class as two groups of particles: its good ones and its junk, kept or removed together
    both = particle_fractions(np.r_[np.ones(len(n_good)), np.zeros(len(n_good))], np.r_[selected, selected],
                              np.r_[n_good, n_particles - n_good])
    return {k: both[k] for k in ("good_particles_kept", "junk_particles_removed")}


def errors_by_purity(truth: np.ndarray, selected: np.ndarray, purity: np.ndarray) -> dict:
    """Classes, wrong decisions and the error rate per purity band (where the mistakes are)."""
    out = {}
    for lo, hi in PURITY_BANDS:
        band = (purity >= lo) & (purity < hi)
        wrong = band & (truth.astype(bool) != selected.astype(bool))
        out[f"{lo:.1f}-{min(hi, 1.0):.1f}"] = {"classes": int(band.sum()), "wrong": int(wrong.sum()),
                                               "error_rate": float(wrong.sum() / band.sum()) if band.any() else None}
    return out


def count_scale_metrics(ensemble, jobs: list[LabelledJob], decades: tuple[float, ...] = (1.0, 2.0, 3.0)) -> dict:
    """The held-out metrics as if every job had 10, 100, 1000x the particles (``log10_particles`` + d).

    Our classes hold tens to hundreds of particles, a lab's thousands: this is how much the shipped
    threshold depends on the absolute count.
    """
    from relion_cryodiscovery.data.features import raise_particle_counts
    from relion_cryodiscovery.evaluation.metrics import classification_metrics

    out = {}
    for d in decades:
        scores, truth = [], []
        for job in jobs:
            usable = job.inputs.usable
            features = raise_particle_counts(job.inputs.features[usable], d)
            scores.append(ensemble.predict(job.inputs.images[usable], features).calibrated)
            truth.append(job.labels[usable])
        s, t = np.concatenate(scores), np.concatenate(truth)
        m = classification_metrics(t, s >= ensemble.threshold, s).to_dict()
        out[f"x{10 ** d:g}"] = {k: m[k] for k in ("roc_auc", "accuracy", "false_negative_rate", "false_positive_rate")}
    return out
