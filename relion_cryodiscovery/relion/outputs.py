"""The files a selection job leaves for RELION and for the user.

Layouts follow RELION's own Select job and ``relion_class_ranker`` (see
README.md, "What the job writes"): ``particles.star`` (input optics block and selected particle rows
verbatim), ``class_averages.star`` (2D), ``backup_selection.star``, the ``rank_*`` trio that
``relion_display`` reopens sorted by score, and the selected 3D maps. Each writer takes the
per-class arrays it needs (class numbers, scores, the selected mask), one entry per class in the
job's class order.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from .star import ParticleScan, filter_particles, write_pairs, write_table


def write_particles(path: Path, scan: ParticleScan, selected_classes: list[int]) -> int:
    """``particles.star``: the input verbatim but only the selected classes' particle rows."""
    with path.open("w") as handle:
        return filter_particles(scan, selected_classes, handle)


def write_backup_selection(path: Path, selected: np.ndarray) -> None:
    """``backup_selection.star``: unnamed table, one ``_rlnSelected`` row per class (1 kept, 0 not)."""
    with path.open("w") as handle:
        write_table(handle, "", pd.DataFrame({"rlnSelected": selected.astype(int)}))


def write_class_averages(
    path: Path, model_classes: pd.DataFrame, class_numbers: np.ndarray, scores: np.ndarray, selected: np.ndarray
) -> None:
    """``class_averages.star`` (2D): selected ``model_classes`` rows + class number + predicted score."""
    table = model_classes.copy()
    table["rlnClassNumber"] = class_numbers
    table["rlnPredictedClassScore"] = scores
    with path.open("w") as handle:
        write_table(handle, "", table[selected].reset_index(drop=True))


def copy_rank_data(stage: callable, data_star: Path) -> str:
    """``rank_data.star``: a full copy of the job's data.star (kernel ``sendfile``; needs no scores,
    so the job makes it while the model runs)."""
    shutil.copyfile(data_star, stage("rank_data.star"))
    return "rank_data.star"


def write_rank_files(
    out_dir: Path, stage: callable, model_classes: pd.DataFrame, scores: np.ndarray, optimiser: dict
) -> list[str]:
    """``rank_model.star`` and (with an optimiser) ``rank_optimiser.star``, which names
    ``rank_model.star`` and ``rank_data.star`` (:func:`copy_rank_data`).

    ``relion_display --gui --i <o>rank_optimiser.star`` (4.0/5.0) or ``--i <o>rank_model.star``
    (3.1) then shows all classes, sortable on ``rlnClassScore``.
    """
    table = model_classes.copy()
    table.insert(1, "rlnClassScore", scores)
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


def copy_selected_maps(
    stage: callable, references: list[Path], class_numbers: np.ndarray, selected: np.ndarray
) -> list[str]:
    """3D: each selected class map copied as ``class_NNN.mrc``."""
    names = []
    for path, number, keep in zip(references, class_numbers, selected):
        if keep:
            name = f"class_{int(number):03d}.mrc"
            shutil.copyfile(path, stage(name))
            names.append(name)
    return names


__all__ = [
    "copy_rank_data",
    "copy_selected_maps",
    "write_backup_selection",
    "write_class_averages",
    "write_particles",
    "write_rank_files",
]
