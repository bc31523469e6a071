"""Labelled training jobs: discover them, read them, split them by job (never by image).

Three ways to name training data, combinable:

* ``--project DIR``: a RELION project; every Select job in its ``default_pipeline.star`` whose
  input is a Class2D/Class3D ``run_itNNN_{model,optimiser,data}.star`` gives one labelled job.
* ``--job FILE_OR_DIR --selection DIR_OR_FILE`` pairs.
* ``--manifest FILE``: a CSV with columns ``job,selection`` and optionally ``group`` (e.g. the
  structure, so a split can hold out whole structures); relative paths are taken relative to
  the manifest's directory.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.inputs import ModelInputs, model_inputs
from ..data.labels import labels_from_selection
from ..data.preprocess import PreprocessConfig
from ..errors import CryoDiscoveryError
from ..relion.job import locate_job, read_job
from ..relion.star import read_blocks

_CLASSIFICATION_FILE = re.compile(r"(Class2D|Class3D)/[^/]+/run_(ct\d+_)?it\d{3,}_(model|optimiser|data)\.star$")


@dataclass(frozen=True)
class LabelledJobSource:
    """Where one labelled job's files are."""

    job: Path
    selection: Path
    #: Split unit: jobs with the same group always land in the same split.
    group: str


@dataclass
class LabelledJob:
    """A job's network inputs with the person's labels."""

    source: LabelledJobSource
    inputs: ModelInputs
    labels: np.ndarray
    particle_counts: np.ndarray | None
    dimensionality: int
    #: sha256 of the model.star and the selection file, for the model card.
    file_hashes: dict[str, str]


def _table(blocks: dict, name: str):
    table = blocks.get(name)
    return None if table is None or isinstance(table, dict) else table


def discover_project(project: str | Path) -> list[LabelledJobSource]:
    """Every (classification job, Select job) pair recorded in a project's pipeline."""
    project = Path(project)
    pipeline = project / "default_pipeline.star"
    blocks = read_blocks(pipeline)
    edges = _table(blocks, "pipeline_input_edges")
    if edges is None:
        raise CryoDiscoveryError(pipeline, "has no data_pipeline_input_edges table (no job has inputs)")
    sources = []
    for node, process in zip(edges["rlnPipeLineEdgeFromNode"], edges["rlnPipeLineEdgeProcess"]):
        if str(process).startswith("Select/") and _CLASSIFICATION_FILE.search(str(node)):
            selection = project / str(process)
            if selection.is_dir():
                sources.append(LabelledJobSource(project / str(node), selection, f"{project.resolve()}::{node}"))
    return sources


def read_manifest(manifest: str | Path) -> list[LabelledJobSource]:
    """Rows ``job,selection[,group]`` of a CSV manifest."""
    manifest = Path(manifest)
    try:
        with manifest.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise CryoDiscoveryError(manifest, f"cannot be read ({error.strerror})") from None
    if not rows or not {"job", "selection"} <= set(rows[0]):
        raise CryoDiscoveryError(manifest, "needs a header with columns job,selection[,group] and at least one row")
    base = manifest.parent
    return [
        LabelledJobSource(base / row["job"], base / row["selection"], row.get("group") or str(base / row["job"]))
        for row in rows
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_labelled_job(source: LabelledJobSource, config: PreprocessConfig) -> LabelledJob:
    """Network inputs and labels of one labelled job."""
    job = locate_job(source.job)
    contents = read_job(job)
    classes = contents.classes
    labels = labels_from_selection(source.selection, classes.n_classes)
    selection_file = source.selection
    if selection_file.is_dir():
        selection_file = next(p for p in (selection_file / n for n in ("backup_selection.star", "class_averages.star",
                                                                         "particles.star")) if p.is_file())
    return LabelledJob(
        source=source,
        inputs=model_inputs(classes, config),
        labels=labels,
        particle_counts=classes.particle_counts,
        dimensionality=classes.dimensionality,
        file_hashes={str(job.model_star): _sha256(job.model_star), str(selection_file): _sha256(selection_file)},
    )


def subset_classes(job: LabelledJob, rows: np.ndarray) -> LabelledJob:
    """The same job with only the classes ``rows`` (indices into its classes)."""
    inputs = job.inputs
    return LabelledJob(
        source=job.source,
        inputs=ModelInputs(inputs.images[rows], inputs.features[rows], inputs.usable[rows],
                           [inputs.problems[i] for i in rows]),
        labels=job.labels[rows],
        particle_counts=None if job.particle_counts is None else job.particle_counts[rows],
        dimensionality=job.dimensionality,
        file_hashes=job.file_hashes,
    )


def split_classes(job: LabelledJob, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of one job's usable classes: stratified by label, seeded.

    Each label puts ``round(val_fraction * n)`` of its n classes into validation, at least one when it
    has two or more, so that both sets hold good and bad classes whenever the job has two of each.
    """
    rng = np.random.default_rng(seed)
    usable = np.flatnonzero(job.inputs.usable)
    train, validation = [], []
    for label in np.unique(job.labels[usable]):
        rows = usable[job.labels[usable] == label]
        rng.shuffle(rows)
        n_val = min(max(int(round(val_fraction * len(rows))), 1), len(rows) - 1) if len(rows) >= 2 else 0
        validation += list(rows[:n_val])
        train += list(rows[n_val:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(validation, dtype=int))


def split_by_group(
    jobs: list[LabelledJob], fractions: tuple[float, float, float], seed: int
) -> tuple[list[LabelledJob], list[LabelledJob], list[LabelledJob]]:
    """Train/validation/test split by group (job or structure), never by image.

    Groups are shuffled with ``seed`` and dealt out until each split holds its fraction of
    classes. With fewer than three groups, validation and test may be empty.
    """
    groups = sorted({job.source.group for job in jobs})
    rng = np.random.default_rng(seed)
    rng.shuffle(groups)
    sizes = {g: sum(len(j.labels) for j in jobs if j.source.group == g) for g in groups}
    total = sum(sizes.values())
    targets = np.cumsum(fractions) / np.sum(fractions) * total
    assignment: dict[str, int] = {}
    seen = 0
    for group in groups:
        split = int(np.searchsorted(targets, seen, side="right"))
        assignment[group] = min(split, 2)
        seen += sizes[group]
    # every non-empty fraction gets at least one group when there are enough groups: the smallest group of
    # the training set moves, or, when training holds only one, of another set that holds more than one
    for split in (1, 2):
        if fractions[split] > 0 and split not in assignment.values() and len(groups) >= 3:
            held = [sum(a == s for a in assignment.values()) for s in range(3)]
            donor = 0 if held[0] > 1 else next(s for s in (1, 2) if s != split and held[s] > 1)
            smallest = min((g for g in groups if assignment[g] == donor), key=lambda g: sizes[g])
            assignment[smallest] = split
    parts: tuple[list, list, list] = ([], [], [])
    for job in jobs:
        parts[assignment[job.source.group]].append(job)
    return parts
