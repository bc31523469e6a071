"""What a run leaves behind: the selection's RELION files, the score tables, the montage and ``run.out``'s report.

Everything is staged in the :class:`~relion_cryodiscovery.relion.sentinels.OutputDirectory` and
returned as a list of names for the runner to commit. The score tables are
``cryodiscovery_scores.csv`` (a plain table: one header line, one row per class),
``cryodiscovery_scores.star`` (the provenance block, then the same table) and
``cryodiscovery_scores.json`` (the provenance). :func:`write_selection` writes a select run's files
from one :class:`SelectionOutputs`, with one ``particles_group_N.star`` per group when the kept classes
are grouped (``groups``).
"""

from __future__ import annotations

import csv
import datetime
import json
import resource
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..version import __version__
from ..relion.classes import ClassSet
from ..errors import CryoDiscoveryError
from ..model.card import ModelCard
from ..model.domain import ADVICE as DOMAIN_ADVICE, DomainCheck
from ..model.reasons import UNCLEAR
from ..relion.nodes import NODES_FILE, OutputNode, write_nodes
from ..relion.sentinels import OutputDirectory
from ..timing import StepLog
from .deferred import gc_paused
from .parameters import JobParameters
from .class_scores import NO_KIND, SCORE_COLUMNS, ClassScores

if TYPE_CHECKING:
    from ..data.inputs import ModelInputs
    from ..data.polarity import Polarity
    from ..relion.job import ClassificationJob, JobContents
    from .montage import MontageTiles

MONTAGE_FILE = "cryodiscovery_montage.png"
SCORES_STAR = "cryodiscovery_scores.star"
SCORES_CSV = "cryodiscovery_scores.csv"
SCORES_JSON = "cryodiscovery_scores.json"
#: Earlier outputs that a rerun removes when it does not produce them again.
KNOWN_OUTPUTS = (
    "particles.star",
    "class_averages.star",
    "backup_selection.star",
    "rank_model.star",
    "rank_data.star",
    "rank_optimiser.star",
    SCORES_STAR,
    SCORES_CSV,
    SCORES_JSON,
    MONTAGE_FILE,
    NODES_FILE,
)


def provenance(card: ModelCard, parameters: JobParameters, input_path: str, min_score: float,
               check: DomainCheck | None, polarity: "Polarity | None" = None,
               runtime: str | None = None) -> dict[str, str]:
    """What makes an output traceable: software, model, the runtime that scored it (with its versions,
    :meth:`.inference.ModelLoader.runtime`), input, parameters (``min_score``: the threshold the job was
    judged by), command line, contrast polarity, domain check. ``groups`` is listed when grouping is on
    (off, the outputs are exactly those of a version without it)."""
    used = {k: v for k, v in asdict(parameters).items()
            if k != "unknown" and not (k == "groups" and parameters.grouping is None)}
    used["min_score"] = min_score
    info = {
        "software": f"relion_cryodiscovery {__version__}",
        "model_version": card.model_version,
        "model_dir": parameters.model or "(shipped default)",
        **({"runtime": runtime} if runtime else {}),
        "input": input_path,
        "parameters": " ".join(f"{k}={v}" for k, v in used.items()),
        "command_line": " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    if polarity is not None:
        info["contrast"] = polarity.summary()
    if check is not None:
        info["domain_check"] = check.summary() + (f"; {DOMAIN_ADVICE}" if check.out_of_domain else "")
    return info


def montage_title(input_path: str, card: ModelCard, check: DomainCheck | None,
                  polarity: "Polarity | None" = None) -> str:
    """The montage's title: input and model version, led by the warnings (out of domain, inverted contrast)
    first, so that cutting a long input path to the montage's width never cuts them."""
    title = f"{input_path} ({card.model_version})"
    if polarity is not None and polarity.inverted:
        title = "CONTRAST INVERTED: scored flipped - " + title
    return "OUT OF DOMAIN: look before trusting - " + title if check is not None and check.out_of_domain else title


def montage_tiles(classes: ClassSet, inputs: "ModelInputs") -> "MontageTiles":
    """The montage's images: 2D averages as RELION wrote them; for 3D maps, their projections along z, y
    and x as the model sees them (views 0-2 of :func:`~relion_cryodiscovery.data.preprocess.map_views`:
    centred on the particle, the right way up)."""
    with gc_paused():
        from .montage import PROJECTION_AXES, MontageTiles

    if classes.dimensionality == 2:
        return MontageTiles.of_images(classes.images)
    return MontageTiles(inputs.images[:, :len(PROJECTION_AXES)])


def stage_montage(output: OutputDirectory, tiles: "MontageTiles", scores: ClassScores, title: str) -> list[str]:
    """The class montage (``tiles`` from :func:`montage_tiles`) with scores and decisions."""
    tiles.draw(scores.class_numbers, scores.score, scores.selected, montage_notes(scores), output.stage(MONTAGE_FILE),
               title=title)
    return [MONTAGE_FILE]


def montage_notes(scores: ClassScores) -> list[str]:
    """The text under each class of the montage: its grade, a kept class's group (when grouped) or a
    rejected class's junk kind with its probability, then the selection's reason."""
    notes = []
    groups = scores.groups if scores.groups is not None else np.zeros(len(scores.selected), dtype=int)
    for grade, kind, probability, keep, reason, group in zip(scores.grades, scores.shown_kinds(),
                                                             scores.junk_probabilities, scores.selected,
                                                             scores.reasons, groups):
        words = [f"grade {grade}"]
        if keep and group:
            words.append(f"group {group}")
        if not keep and kind != NO_KIND:
            words.append(f"{kind} ({probability:.2f})")
        notes.append("; ".join(words + ([reason] if reason else [])))
    return notes


def write_scores_csv(path: Path, scores: ClassScores) -> None:
    """``cryodiscovery_scores.csv``: a header line, then one row per class (p_d3 empty if unused)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(scores.columns())
        grouped = scores.groups is not None
        for row in scores.table().itertuples(index=False):
            writer.writerow(
                [
                    row.class_number,
                    f"{row.score:.6f}",
                    row.selected,
                    f"{row.p_d1:.6f}",
                    f"{row.p_d2:.6f}",
                    "" if np.isnan(row.p_d3) else f"{row.p_d3:.6f}",
                    row.d3_used,
                    row.particles,
                    row.reason,
                    row.junk_kind,
                    "" if np.isnan(row.junk_kind_probability) else f"{row.junk_kind_probability:.6f}",
                    row.grade,
                ]
                + ([row.group] if grouped else [])
            )


def write_scores_star(path: Path, scores: ClassScores, info: dict[str, str]) -> None:
    """``cryodiscovery_scores.star``: provenance block, then the same table (p_d3 = -1 if unused)."""
    from ..relion.star import write_pairs, write_table

    table = scores.table()
    table["p_d3"] = table["p_d3"].fillna(-1.0)
    table = table.rename(columns={name: f"cdi{name.title().replace('_', '')}" for name in table.columns})
    with path.open("w") as handle:
        handle.write("# CryoDiscovery class scores. p_d3 = -1 where the tie-breaker d3 was not consulted.\n")
        write_pairs(handle, "cryodiscovery_general", {f"cdi{k.title().replace('_', '')}": v for k, v in info.items()})
        write_table(handle, "cryodiscovery_classes", table, version=None)


def write_scores_json(path: Path, info: dict[str, str], columns: tuple[str, ...] = SCORE_COLUMNS) -> None:
    """``cryodiscovery_scores.json``: the provenance of the score tables beside them, and their columns."""
    path.write_text(json.dumps({"provenance": info, "columns": list(columns), "scores_csv": SCORES_CSV},
                               indent=1) + "\n")


def stage_score_tables(output: OutputDirectory, scores: ClassScores, info: dict[str, str]) -> list[str]:
    """The three score files, staged."""
    write_scores_star(output.stage(SCORES_STAR), scores, info)
    write_scores_csv(output.stage(SCORES_CSV), scores)
    write_scores_json(output.stage(SCORES_JSON), info, scores.columns())
    return [SCORES_STAR, SCORES_CSV, SCORES_JSON]


@dataclass
class SelectionOutputs:
    """What a select run's files are made of."""

    #: ``--o`` with a trailing slash, as the nodes file names outputs (``External/job011/``).
    prefix: str
    #: RELION version whose node labels are written.
    relion_version: str
    job: "ClassificationJob"
    contents: "JobContents"
    scores: ClassScores
    provenance: dict[str, str]
    #: None: no montage.
    montage: "MontageTiles | None"
    montage_title: str


def start_particles(output: OutputDirectory, job: "ClassificationJob", contents: "JobContents", scores: ClassScores,
                    copier: ThreadPoolExecutor) -> Future:
    """Start staging ``particles.star`` (the job's data.star with the selected classes' rows: a select
    run's longest write) in ``copier``'s thread, as soon as the selection is known; its future gives
    the particles written. Raises when the selected classes hold no particles."""
    from ..relion import outputs

    classes = contents.classes
    if not contents.scan.counts(classes.n_classes)[scores.selected].any():
        raise CryoDiscoveryError(job.data_star, "the selected classes hold no particles; lower min_score or min_particles")
    selected_numbers = [int(n) for n in classes.class_numbers[scores.selected]]
    return copier.submit(outputs.write_particles, output.stage("particles.star"), contents.scan, selected_numbers)


def start_rank_data(output: OutputDirectory, job: "ClassificationJob", copier: ThreadPoolExecutor) -> Future:
    """Start staging ``rank_data.star`` (a copy of the job's data.star; it needs no scores) in ``copier``'s
    thread; its future gives the file's name."""
    from ..relion import outputs

    return copier.submit(outputs.copy_rank_data, output.stage, job.data_star)


def group_file(group: int) -> str:
    """The particles file of one group of kept classes."""
    return f"particles_group_{group}.star"


def start_group_particles(output: OutputDirectory, contents: "JobContents", scores: ClassScores,
                          copier: ThreadPoolExecutor) -> list[tuple[str, Future]]:
    """Start staging one :func:`group_file` per group of kept classes (:attr:`ClassScores.groups`) in
    ``copier``'s thread, each written as ``particles.star`` is (the job's data.star with the group's
    rows, its optics and RELION 3.0/3.1 format kept): (name, future of the particles written) by group;
    none when the classes were not grouped."""
    from ..relion import outputs

    if scores.groups is None:
        return []
    numbers = contents.classes.class_numbers
    started = []
    for group in np.unique(scores.groups[scores.groups > 0]):
        members = [int(n) for n in numbers[scores.groups == group]]
        name = group_file(int(group))
        started.append((name, copier.submit(outputs.write_particles, output.stage(name), contents.scan, members)))
    return started


def write_selection(
    output: OutputDirectory, selection: SelectionOutputs, copier: ThreadPoolExecutor, rank_data: Future,
    particles_job: Future,
) -> tuple[list[str], int]:
    """Stage every output of a selection: (names to commit in order, particles written).

    ``copier`` writes the big files in a thread: ``rank_data`` is its already started copy of the job's
    data.star to ``rank_data.star``, ``particles_job`` its ``particles.star`` (:func:`start_particles`);
    the tables and the montage are drawn here meanwhile, and the groups' files (:func:`start_group_particles`)
    written after them.
    """
    from ..relion import outputs

    prefix, contents, scores = selection.prefix, selection.contents, selection.scores
    data_star = selection.job.data_star
    classes = contents.classes
    names = ["particles.star"]
    rank_job = copier.submit(outputs.write_rank_files, Path(prefix.rstrip("/")), output.stage,
                             contents.model_classes, scores.score, contents.optimiser)
    groups = start_group_particles(output, contents, scores, copier)
    names += [name for name, _ in groups]
    nodes = [OutputNode(prefix + name, "particles") for name in names]  # particles.star and the groups'
    outputs.write_backup_selection(output.stage("backup_selection.star"), scores.selected)
    names.append("backup_selection.star")
    if classes.dimensionality == 2:
        outputs.write_class_averages(output.stage("class_averages.star"), contents.model_classes,
                                     scores.class_numbers, scores.score, scores.selected)
        names.append("class_averages.star")
        nodes.append(OutputNode(prefix + "class_averages.star", "class_averages"))
    else:
        maps = outputs.copy_selected_maps(output.stage, contents.image_files, scores.class_numbers, scores.selected)
        names += maps
        nodes += [OutputNode(prefix + name, "map") for name in maps]
    names += stage_score_tables(output, scores, selection.provenance)
    if selection.montage is not None:
        names += stage_montage(output, selection.montage, scores, selection.montage_title)
    n_particles = particles_job.result()
    if n_particles == 0:
        raise CryoDiscoveryError(data_star, "the selected classes hold no particles; lower min_score or min_particles")
    for name, written in groups:  # never an empty particles file (kept classes hold particles)
        if written.result() == 0:
            raise CryoDiscoveryError(data_star, f"the classes of {name} hold no particles")
    rank = rank_job.result()
    names += rank[:1] + [rank_data.result()] + rank[1:]
    nodes += [OutputNode(prefix + name, name.removesuffix(".star")) for name in rank]
    with output.stage(NODES_FILE).open("w") as handle:
        write_nodes(handle, nodes, selection.relion_version)
    return names, n_particles


def earlier_outputs(directory: Path) -> list[str]:
    """Outputs of an earlier run in ``directory`` (a rerun removes those it does not write again)."""
    maps = [p.name for p in directory.glob("class_[0-9][0-9][0-9]*.mrc")]
    groups = [p.name for p in directory.glob("particles_group_[0-9]*.star")]
    return [name for name in KNOWN_OUTPUTS if (directory / name).exists()] + maps + groups


def group_summary(scores: ClassScores) -> list[str]:
    """One line per group of kept classes: ``group 1: 4 classes (2, 5, 7, 9), 1234 particles`` (none when
    the classes were not grouped)."""
    if scores.groups is None:
        return []
    particles = scores.particles if scores.particles is not None else np.full(len(scores.groups), -1)
    lines = []
    for group in np.unique(scores.groups[scores.groups > 0]):
        members = scores.groups == group
        count = f", {int(particles[members].sum())} particles" if (particles[members] >= 0).all() else ""
        numbers = ", ".join(str(int(n)) for n in scores.class_numbers[members])
        size = f"{int(members.sum())} class{'es' if members.sum() > 1 else ''}"
        lines.append(f"group {group}: {size} ({numbers}){count}")
    return lines


def report(log: StepLog, scores: ClassScores, info: dict[str, str], model: object = None) -> None:
    """``run.out``: provenance, the per-class table, the time of each step, peak memory, what the job-relative
    bars changed (when anything), the groups (when grouped), the count kept."""
    for key, value in info.items():
        print(f"{key}: {value}")
    print(f"{'class':>5} {'score':>6} {'kept':>4} {'grade':>5} {'particles':>9}  {'junk kind':<34} reason")
    for row, guess in zip(scores.table().itertuples(index=False), scores.likely_kinds):
        kind = "" if row.junk_kind == NO_KIND else f"{row.junk_kind} ({row.junk_kind_probability:.2f})"
        if row.junk_kind == UNCLEAR and guess and guess != UNCLEAR:  # a hint: the most likely kind, below the bar
            kind = f"{UNCLEAR} ({row.junk_kind_probability:.2f}: {guess}?)"
        print(f"{row.class_number:>5} {row.score:6.3f} {row.selected:>4} {row.grade:>5} {row.particles:>9}  "
              f"{kind:<34} {row.reason}")
    for label, seconds in log:
        print(f"time {label}: {seconds:.2f} s")
    peak = f"peak RSS: this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    if getattr(model, "peak_rss_mb", None) is not None:
        peak += f", model worker process {model.peak_rss_mb:.0f} MB"
    print(peak)
    print(scores.rejection_summary())
    for line in scores.decision_notes:
        print(line)
    for line in group_summary(scores):
        print(line)
    print(f"kept {int(scores.selected.sum())} of {len(scores.selected)} classes", flush=True)

