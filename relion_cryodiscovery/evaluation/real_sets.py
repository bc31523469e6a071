"""Real class averages with labels: load them, score them, and set the trivial baselines beside.

Real classes are the test that counts (simulated hold-outs do not show a domain gap). A real set is
a class stack plus labels (1 kept / 0 rejected; some sets hold kept classes only, which checks
false negatives but not precision) and whatever metadata its source gave (particle counts).
:data:`SHARED_SETS` describes the sets in ``../shared/real`` (not copied into the repository) and
:data:`EXTRA_SETS` those found later (``real_extra``; provenance in ``docs/real_sets.md``).

Every table row carries, on the same classes, the two trivial baselines: the class distribution
(particle counts, where the source has them) and the high-frequency power fraction
(:func:`relion_cryodiscovery.data.spectral.high_frequency_power_fraction`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..relion.classes import ClassSet
from ..data.spectral import high_frequency_power_fraction
from ..relion.mrc import read_mrc
from .metrics import roc_auc


@dataclass(frozen=True)
class RealSetSpec:
    """Where a real set's files are (relative to its root) and what is known about them."""

    name: str
    stack: str
    labels: str | None = None
    #: Label 1 for every class (a Select job's kept classes only).
    positives_only: bool = False
    pixel_size: float | None = None
    #: CSV and column holding particle counts per class, in class order.
    counts: tuple[str, str] | None = None
    #: Rectangles (panel index 0-based, y0, y1, x0, x1) overwritten with the panel's border median
    #: (scale bars and text drawn on figures).
    erase: tuple[tuple[int, int, int, int, int], ...] = ()
    #: The stack is in gallery order (largest class first) with no counts: the distribution baseline
    #: ranks by position; the model gets no counts.
    gallery_order: bool = False
    #: Score the stack with its contrast inverted (protein dark), as a polarity check.
    inverted: bool = False
    what: str = ""


@dataclass
class RealSet:
    """One loaded real set."""

    spec: RealSetSpec
    classes: ClassSet
    labels: np.ndarray
    counts: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


#: Labels made for this project (by eye), kept in the repository beside the provenance files.
LABELS_IN_REPO = Path(__file__).resolve().parents[2] / "benchmarks" / "real_sets"

_T20S_BAR = tuple((i, 110, 275, 20, 64) for i in (0, 5, 10))

SHARED_SETS: tuple[RealSetSpec, ...] = (
    RealSetSpec("t20s_cryosparc_select2d", "t20s_cryosparc_selected/T20S_selected15_figure8bit.mrcs",
                positives_only=True, erase=_T20S_BAR,
                what="T20S proteasome, 15 classes kept by cryoSPARC Select 2D (8-bit figure, 382 px, ~0.73 A/px)"),
    RealSetSpec("t20s_cryosparc_select2d_inverted", "t20s_cryosparc_selected/T20S_selected15_figure8bit.mrcs",
                positives_only=True, erase=_T20S_BAR, inverted=True,
                what="the same 15 T20S classes with the contrast inverted (protein dark): the polarity check"),
    RealSetSpec("magellon_graded", "magellon_graded_classes/example_labels_k20_fig8bit_overlayfilled.mrcs",
                labels="magellon_graded_classes/labels.csv", counts=("magellon_graded_classes/grades.csv", "n_particles"),
                pixel_size=1.65,
                what="20 cryoSPARC classes graded by an expert (A/B/C good, D/F bad; 8-bit figure, 190 px)"),
    RealSetSpec("magellon_ribosome", "magellon_ribosome/ref.mrc", positives_only=True,
                what="70S ribosome reference average (384 px, pixel size unknown)"),
    RealSetSpec("magellon_ribosome_clipped_70s", "magellon_ribosome/seventys.mrc", positives_only=True,
                what="70S average clipped at 1.0 (384 px)"),
    RealSetSpec("magellon_ribosome_clipped_50s", "magellon_ribosome/fiftys.mrc", positives_only=True,
                what="50S average clipped at 1.0 (384 px)"),
    RealSetSpec("magellon_cage_templates", "magellon_cage_templates/origTemplates_1-3.mrcs", positives_only=True,
                pixel_size=2.646, what="3 polyhedral-cage class averages chosen as picking templates (448 px)"),
)

EXTRA_SETS: tuple[RealSetSpec, ...] = (
    RealSetSpec("cryosparc_magnification_j38", "cryosparc_tools_magnification_select2d/J38_selected12_fig8bit.mrcs",
                positives_only=True, what="T20S, 12 classes kept by cryoSPARC Select 2D J38 (8-bit figure, ~142 px)"),
    RealSetSpec("cryosparc_magnification_j39", "cryosparc_tools_magnification_select2d/J39_selected12_fig8bit.mrcs",
                positives_only=True, what="T20S, 12 classes kept by cryoSPARC Select 2D J39 (8-bit figure, ~142 px)"),
    RealSetSpec("cryosparc_magnification_p70_j104",
                "cryosparc_tools_magnification_p70_select2d/J104_selected11_fig8bit.mrcs", positives_only=True,
                what="T20S (EMPIAR-10025 subset, particles 0.6575 A/px), 11 classes kept by cryoSPARC Select 2D P70 J104 "
                     "(8-bit figure, 142 px; earlier magnification.ipynb)"),
    RealSetSpec("cryosparc_magnification_p70_j105",
                "cryosparc_tools_magnification_p70_select2d/J105_selected11_fig8bit.mrcs", positives_only=True,
                what="T20S (EMPIAR-10025 subset, particles 0.8767 A/px), 11 classes kept by cryoSPARC Select 2D P70 J105 "
                     "(8-bit figure, 142 px; earlier magnification.ipynb)"),
    RealSetSpec("relion4_tutorial_job013_ranker", "relion4tut_betagal_job013_classranker/job013_classes_100_json8bit.mrcs",
                labels="relion4tut_betagal_job013_classranker/labels.csv", pixel_size=3.54,
                counts=("relion4tut_betagal_job013_classranker/metadata.csv", "n_particles_est(9191*dist)"),
                what="RELION 4.0 tutorial beta-gal Class2D (VDAM, 100 classes, 64 px, 3.54 A/px, 8-bit); "
                     "labels: RELION's class ranker (min_score 0.25), machine labels"),
    RealSetSpec("relion4_tutorial_job008_ranker", "relion4tut_betagal_job008_classranker/job008_classes_50_json8bit.mrcs",
                labels="relion4tut_betagal_job008_classranker/labels.csv", pixel_size=3.54,
                counts=("relion4tut_betagal_job008_classranker/metadata.csv", "n_particles_est(2377*dist)"),
                what="RELION 4.0 tutorial beta-gal Class2D (EM, 50 classes, 64 px, 3.54 A/px, 8-bit); "
                     "labels: RELION's class ranker (min_score 0.5), machine labels"),
    RealSetSpec("relion4_tutorial_job032_byeye", "relion4tut_betagal_job032_nolabels/job032_classes_40_galleryorder_jpg8bit.mrcs",
                labels=str(LABELS_IN_REPO / "relion4tut_betagal_job032_byeye_labels.csv"), pixel_size=3.54,
                gallery_order=True,
                what="RELION 4.0 tutorial beta-gal Class2D (40 classes, 64 px, 3.54 A/px, 8-bit JPEG gallery); "
                     "labels: ours, by eye, two passes (docs/real_sets.md)"),
    RealSetSpec("py2rely_slab_class2d", "py2rely_slab_class2d_webgui/webgui_classes1-10_inpainted_fig8bit.mrcs",
                labels=str(LABELS_IN_REPO / "py2rely_slab_class2d_labels.csv"),
                counts=(str(LABELS_IN_REPO / "py2rely_slab_class2d_labels.csv"), "particles"),
                what="RELION Class2D of cryo-ET slabs (classes 1-10 of 50; GUI screenshot, 8-bit, 338 px, captions "
                     "inpainted); labels: the py2rely authors' selection (4 good / 6 bad)"),
    RealSetSpec("himena_relion_job065", "himena_relion_job065_gallery/job065_visible13_inpainted_fig8bit.mrcs",
                positives_only=True, pixel_size=233.4 / 258,
                what="RELION Class2D job065, the 13 visible largest classes (GUI screenshot of 128 px, 1.82 A/px "
                     "classes upsampled to 258 px; text inpainted); positives only, unlabelled by the source"),
    RealSetSpec("xtremed_relion3_job009_select", "xtremed_relion3tut_class2d_select/job009_classes50_display8bit.mrcs",
                labels=str(LABELS_IN_REPO / "xtremed_relion3tut_job009_select_labels.csv"), pixel_size=3.54 / 4,
                what="RELION 3.0 tutorial beta-gal (run by xtreme-d), early Class2D of LoG-picked particles from 5 "
                     "micrographs: all 50 classes (64 px at 3.54 A shown 4x, 8-bit display); labels: the author's "
                     "red-framed selection in relion_display (4 kept as autopick templates); no licence stated"),
    RealSetSpec("xtremed_relion3_job023_select", "xtremed_relion3tut_class2d_select/job023_classes100_display8bit.mrcs",
                labels=str(LABELS_IN_REPO / "xtremed_relion3tut_job023_select_labels.csv"), pixel_size=3.54 / 2,
                what="RELION 3.0 tutorial beta-gal (run by xtreme-d), Class2D of template-picked, sorted particles: "
                     "all 100 classes (64 px at 3.54 A shown 2x, 8-bit display); labels: the author's red-framed "
                     "'good (not blurred)' selection (6 kept); no licence stated"),
    RealSetSpec("slicem_mixture_k100_byeye", "slicem_mixture_class2d_k100/original/mixture_2D.mrcs",
                labels=str(LABELS_IN_REPO / "slicem_mixture_class2d_k100_byeye_labels.csv"),
                what="RELION Class2D of a mixture of several complexes (EMPIAR-10268; SLICEM example data, MIT): "
                     "all 100 classes, 96 px, float, pixel size unknown; labels: ours, by eye, two passes "
                     "(71 good / 27 bad, 2 disagreements left out; docs/real_sets.md)"),
    RealSetSpec("cryosparc_empiar10880_k100_byeye",
                "cryosparc_examples_empiar10880_class2d_k100/empiar10880_classes100_inpainted_fig8bit.mrcs",
                labels=str(LABELS_IN_REPO / "cryosparc_examples_empiar10880_class2d_k100_byeye_labels.csv"),
                pixel_size=120 / 104, gallery_order=True,
                what="cryoSPARC 2D classification of EMPIAR-10880 (cryosparc-examples figure, no licence stated): "
                     "all 100 classes in display order (largest first), 8-bit, 234 px at ~1.15 A, captions "
                     "inpainted; high-resolution classes then blobs/noise; labels: ours, by eye, two passes "
                     "(37 good / 63 bad, full agreement)"),
    RealSetSpec("magellon_empiar10812_sample100",
                "magellon_empiar10812_sample100/empiar10812_sample100_fig8bit.mrcs",
                labels=str(LABELS_IN_REPO / "magellon_empiar10812_sample100_labels.csv"),
                what="100 RELION classes drawn at random from EMPIAR-10812 (the class ranker's training jobs, many "
                     "specimens; Magellon figures, Apache-2.0), 71 px 8-bit, pixel size unknown; labels: the RELION "
                     "developers' class score, >= 0.5 kept (10), 0 rejected (56); 0 < score < 0.5 and 22 empty "
                     "classes left out"),
    RealSetSpec("cianfrocco_oldschool_goodbad24", "cianfrocco_oldschool_goodbad24/goodbad24_fig8bit.mrcs",
                labels=str(LABELS_IN_REPO / "cianfrocco_oldschool_goodbad24_labels.csv"),
                what="24 real 2D class averages of one unnamed specimen in a Cianfrocco-lab wiki figure (MIT), "
                     "100 px cut from ~104 px 8-bit tiles, pixel size unknown; labels: the lab's panels "
                     "'Good class averages' (12) / 'Bad class averages' (12), a teaching example"),
)


def _column(path: Path, column: str) -> np.ndarray:
    with path.open(newline="") as handle:
        return np.array([float(row[column]) for row in csv.DictReader(handle)])


def _erase(images: np.ndarray, rectangles) -> np.ndarray:
    out = images.copy()
    for index, y0, y1, x0, x1 in rectangles:
        panel = out[index]
        border = np.concatenate([panel[:8].ravel(), panel[-8:].ravel(), panel[:, :8].ravel(), panel[:, -8:].ravel()])
        panel[y0:y1, x0:x1] = np.median(border)
    return out


def load_real_set(spec: RealSetSpec, root: Path) -> RealSet | None:
    """Load one set from ``root`` (``None`` when its files are not there)."""
    stack = root / spec.stack
    if not stack.is_file():
        return None
    images, voxel = read_mrc(stack)
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        images = images[None]
    images = _erase(images, spec.erase)
    if spec.inverted:
        images = -images
    k = len(images)
    labels = np.ones(k, np.int8) if spec.positives_only else _column(root / spec.labels, "label").astype(np.int8)
    keep = labels >= 0  # -1: the labelling passes disagreed; left out
    numbers = np.flatnonzero(keep) + 1  # the source's class numbers (1..k in the stack), kept for the rest
    images, labels = images[keep], labels[keep]
    k = len(images)
    counts = _column(root / spec.counts[0], spec.counts[1])[keep] if spec.counts else None
    pixel = spec.pixel_size or (voxel if voxel and abs(voxel - 1.0) > 1e-3 else None)
    metadata = {"rlnClassDistribution": counts / counts.sum()} if counts is not None else {}
    classes = ClassSet(dimensionality=2, class_numbers=numbers, images=images, pixel_size=pixel,
                       metadata=metadata, particle_counts=None if counts is None else np.round(counts).astype(int),
                       source=str(stack))
    if spec.gallery_order:  # baseline only: rank by position in the gallery
        counts = np.arange(k, 0, -1).astype(float)
    return RealSet(spec, classes, labels, counts)


def load_real_sets(shared_root: Path | None, extra_root: Path | None) -> list[RealSet]:
    """Every set whose files exist under the two roots."""
    sets = []
    for specs, root in ((SHARED_SETS, shared_root), (EXTRA_SETS, extra_root)):
        if root is None:
            continue
        for spec in specs:
            loaded = load_real_set(spec, Path(root))
            if loaded is not None:
                sets.append(loaded)
    return sets


def hf_baseline(classes: ClassSet) -> np.ndarray:
    """The sharpness baseline score of every class."""
    return np.array([high_frequency_power_fraction(image, classes.pixel_size, classes.particle_diameter)
                     for image in classes.images])


def set_metrics(labels: np.ndarray, scores: np.ndarray, selected: np.ndarray, hf: np.ndarray,
                counts: np.ndarray | None) -> dict:
    """Model and baseline figures on one set (AUCs only where both labels occur)."""
    labels = np.asarray(labels).astype(int)
    good = labels == 1
    both = 0 < good.sum() < len(labels)
    out = {
        "classes": int(len(labels)), "good": int(good.sum()), "kept": int(selected.sum()),
        "false_negatives": int((good & ~selected).sum()),
        "junk_removed": float((~good & ~selected).sum() / (~good).sum()) if (~good).any() else float("nan"),
        "fnr": float((good & ~selected).sum() / max(good.sum(), 1)) if good.any() else float("nan"),
        "accuracy": float((selected == good).mean()),
        "auc": float(roc_auc(labels, scores)) if both else float("nan"),
        "auc_hf_baseline": float(roc_auc(labels, hf)) if both else float("nan"),
        "auc_distribution_baseline": float(roc_auc(labels, counts)) if both and counts is not None else float("nan"),
        "score_min": float(np.min(scores)), "score_median": float(np.median(scores)),
    }
    return out
