"""Ground truth per class from a RELION Select job (what a person kept).

One reader for training (:func:`labels_from_selection`, labels for all K classes of a job) and
evaluation (:func:`read_selection`, which also says whether the file lists every class).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CryoDiscoveryError
from ..relion.star import find_table, scan_particles

_INDEX = re.compile(r"^0*(\d+)@")
#: A Select job's files, in the order they are trusted.
SELECTION_FILES = ("backup_selection.star", "class_averages.star", "particles.star")


@dataclass
class SelectionLabels:
    """Classes a selection file speaks about and their 0/1 labels."""

    class_numbers: np.ndarray
    labels: np.ndarray
    #: True when every class is listed (backup_selection.star); False when only kept classes are.
    complete: bool
    source: Path


def selection_file(selection: str | Path) -> Path:
    """A Select job directory -> its most informative selection file (a file is returned as is)."""
    path = Path(selection)
    if not path.is_dir():
        return path
    for name in SELECTION_FILES:
        if (path / name).is_file():
            return path / name
    raise CryoDiscoveryError(path, f"holds no {', '.join(SELECTION_FILES)}")


def _integers(values: object, path: Path, label: str) -> np.ndarray:
    """A STAR column as whole numbers, or a clear error naming the file and the column."""
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise CryoDiscoveryError(path, f"_{label} holds a value that is not a number") from None
    if not np.all(np.isfinite(numbers)) or np.any(numbers != np.round(numbers)) or np.any(np.abs(numbers) > 2**31):
        raise CryoDiscoveryError(path, f"_{label} holds a value that is not a whole number")
    return numbers.astype(np.int64)


def _kept_classes(path: Path) -> np.ndarray:
    """Class numbers listed in a class_averages.star or particles.star."""
    if path.name.startswith("particles"):
        return np.unique(scan_particles(path).class_numbers)
    table = find_table(path)
    if "rlnClassNumber" in table.columns:
        return np.unique(_integers(table["rlnClassNumber"], path, "rlnClassNumber"))
    if "rlnReferenceImage" in table.columns:
        matches = [_INDEX.match(str(name)) for name in table["rlnReferenceImage"]]
        if not all(matches):
            raise CryoDiscoveryError(path, "rlnReferenceImage values are not index@stack references")
        return np.unique([int(m.group(1)) for m in matches]).astype(np.int64)
    raise CryoDiscoveryError(path, "has neither _rlnClassNumber nor _rlnReferenceImage")


def read_selection(selection: str | Path) -> SelectionLabels:
    """Labels from a Select job directory, ``backup_selection.star``, ``class_averages.star`` or ``particles.star``.

    ``backup_selection.star`` has one ``rlnSelected`` row per class (any colour >= 1 counts as
    kept); the other two list only the kept classes (``rlnClassNumber``, else the image index of
    ``rlnReferenceImage``; for particles, a class is kept if any of its particles is).
    """
    path = selection_file(selection)
    if not path.name.startswith(("class_averages", "particles")):
        table = find_table(path)
        if "rlnSelected" in table.columns:
            selected = _integers(table["rlnSelected"], path, "rlnSelected") > 0
            return SelectionLabels(np.arange(1, len(table) + 1), selected.astype(np.int64), True, path)
        if path.name.startswith("backup_selection"):
            raise CryoDiscoveryError(path, "has no _rlnSelected column")
    kept = _kept_classes(path)
    if len(kept) and kept.min() < 1:
        raise CryoDiscoveryError(path, f"names class {int(kept.min())}; class numbers start at 1")
    return SelectionLabels(kept, np.ones(len(kept), dtype=np.int64), False, path)


def labels_from_selection(selection: str | Path, n_classes: int) -> np.ndarray:
    """(K,) 0/1 labels of a job's K classes from its Select job (see :func:`read_selection`)."""
    found = read_selection(selection)
    if found.complete and len(found.labels) != n_classes:
        raise CryoDiscoveryError(found.source, f"has {len(found.labels)} rows but the job has {n_classes} classes")
    if len(found.class_numbers) and found.class_numbers.max() > n_classes:
        raise CryoDiscoveryError(
            found.source, f"names class {int(found.class_numbers.max())} but the job has {n_classes} classes"
        )
    labels = np.zeros(n_classes, dtype=np.int64)
    labels[found.class_numbers - 1] = found.labels
    return labels
