"""The files a selection job leaves for RELION and for the user.

Layouts follow RELION's own Select job and ``relion_class_ranker`` (see
README.md, "What the job writes"): ``particles.star`` (input optics block and selected particle rows
verbatim), ``class_averages.star`` (2D), ``backup_selection.star``, the ``rank_*`` trio that
``relion_display`` reopens sorted by score, selected 3D maps, and our per-class score table
as STAR and CSV with the model version and parameters.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .star import ParticleScan, filter_particles, format_value, write_pairs, write_table

SCORE_COLUMNS = ("class_number", "score", "selected", "p_d1", "p_d2", "p_d3", "d3_used", "particles", "reason")


@dataclass
class ClassScores:
    """One row per class: the ensemble's outputs and the decision."""

    class_numbers: np.ndarray
    score: np.ndarray
    selected: np.ndarray
    p_d1: np.ndarray
    p_d2: np.ndarray
    p_d3: np.ndarray  # NaN where d3 was not consulted
    d3_used: np.ndarray
    particles: np.ndarray | None
    reasons: list[str]

    def table(self) -> pd.DataFrame:
        particles = self.particles if self.particles is not None else np.full(len(self.score), -1)
        return pd.DataFrame(
            {
                "class_number": self.class_numbers.astype(int),
                "score": self.score.astype(float),
                "selected": self.selected.astype(int),
                "p_d1": self.p_d1.astype(float),
                "p_d2": self.p_d2.astype(float),
                "p_d3": self.p_d3.astype(float),
                "d3_used": self.d3_used.astype(int),
                "particles": particles.astype(int),
                "reason": [reason or "selected" for reason in self.reasons],
            }
        )


def write_scores_csv(path: Path, scores: ClassScores, provenance: dict[str, str]) -> None:
    """``cryodiscovery_scores.csv``: ``# key: value`` provenance lines, then the table (p_d3 empty if unused)."""
    table = scores.table()
    with path.open("w", newline="") as handle:
        for key, value in provenance.items():
            handle.write(f"# {key}: {value}\n")
        writer = csv.writer(handle)
        writer.writerow(SCORE_COLUMNS)
        for row in table.itertuples(index=False):
            values = row._asdict()
            writer.writerow(
                [
                    values["class_number"],
                    f"{values['score']:.6f}",
                    values["selected"],
                    f"{values['p_d1']:.6f}",
                    f"{values['p_d2']:.6f}",
                    "" if np.isnan(values["p_d3"]) else f"{values['p_d3']:.6f}",
                    values["d3_used"],
                    values["particles"],
                    values["reason"],
                ]
            )


def write_scores_star(path: Path, scores: ClassScores, provenance: dict[str, str]) -> None:
    """``cryodiscovery_scores.star``: provenance block, then the same table (p_d3 = -1 if unused)."""
    table = scores.table()
    table["p_d3"] = table["p_d3"].fillna(-1.0)
    table = table.rename(columns={name: f"cdi{name.title().replace('_', '')}" for name in table.columns})
    with path.open("w") as handle:
        handle.write("# CryoDiscovery class scores. p_d3 = -1 where the tie-breaker d3 was not consulted.\n")
        write_pairs(handle, "cryodiscovery_general", {f"cdi{k.title().replace('_', '')}": v for k, v in provenance.items()})
        write_table(handle, "cryodiscovery_classes", table, version=None)


def write_particles(path: Path, scan: ParticleScan, selected_classes: list[int]) -> int:
    """``particles.star``: the input verbatim but only the selected classes' particle rows."""
    with path.open("w") as handle:
        return filter_particles(scan, selected_classes, handle)


def write_backup_selection(path: Path, selected: np.ndarray) -> None:
    """``backup_selection.star``: unnamed table, one ``_rlnSelected`` row per class (1 kept, 0 not)."""
    with path.open("w") as handle:
        write_table(handle, "", pd.DataFrame({"rlnSelected": selected.astype(int)}))


def write_class_averages(path: Path, model_classes: pd.DataFrame, scores: ClassScores) -> None:
    """``class_averages.star`` (2D): selected ``model_classes`` rows + class number + predicted score."""
    table = model_classes.copy()
    table["rlnClassNumber"] = scores.class_numbers
    table["rlnPredictedClassScore"] = scores.score
    with path.open("w") as handle:
        write_table(handle, "", table[scores.selected].reset_index(drop=True))


def copy_rank_data(stage: callable, data_star: Path) -> str:
    """``rank_data.star``: a full copy of the job's data.star (kernel ``sendfile``; needs no scores,
    so the job makes it while the model runs)."""
    shutil.copyfile(data_star, stage("rank_data.star"))
    return "rank_data.star"


def write_rank_files(
    out_dir: Path, stage: callable, model_classes: pd.DataFrame, scores: ClassScores, optimiser: dict
) -> list[str]:
    """``rank_model.star`` and (with an optimiser) ``rank_optimiser.star``, which names
    ``rank_model.star`` and ``rank_data.star`` (:func:`copy_rank_data`).

    ``relion_display --gui --i <o>rank_optimiser.star`` (4.0/5.0) or ``--i <o>rank_model.star``
    (3.1) then shows all classes, sortable on ``rlnClassScore``.
    """
    table = model_classes.copy()
    table.insert(1, "rlnClassScore", scores.score)
    with stage("rank_model.star").open("w") as handle:
        write_table(handle, "model_classes", table)
    names = ["rank_model.star"]
    if optimiser:
        values = dict(optimiser)
        values["rlnModelStarFile"] = f"{out_dir}/rank_model.star"
        values["rlnExperimentalDataStarFile"] = f"{out_dir}/rank_data.star"
        with stage("rank_optimiser.star").open("w") as handle:
            write_pairs(handle, "optimiser_general", values)
        names.append("rank_optimiser.star")
    return names


def copy_selected_maps(stage: callable, references: list[Path], scores: ClassScores) -> list[str]:
    """3D: each selected class map copied as ``class_NNN.mrc``."""
    names = []
    for path, number, keep in zip(references, scores.class_numbers, scores.selected):
        if keep:
            name = f"class_{int(number):03d}.mrc"
            shutil.copyfile(path, stage(name))
            names.append(name)
    return names


__all__ = [
    "ClassScores",
    "SCORE_COLUMNS",
    "copy_rank_data",
    "copy_selected_maps",
    "format_value",
    "write_backup_selection",
    "write_class_averages",
    "write_particles",
    "write_rank_files",
    "write_scores_csv",
    "write_scores_star",
]
