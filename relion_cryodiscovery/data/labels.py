"""Ground truth per class from a RELION Select job (what a person kept)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import CryoDiscoveryError
from ..relion.star import read_blocks, scan_particles

_INDEX = re.compile(r"^0*(\d+)@")


def labels_from_selection(selection: str | Path, n_classes: int) -> np.ndarray:
    """(K,) 0/1 labels from a Select job directory or one of its files.

    Preference: ``backup_selection.star`` (one ``rlnSelected`` row per class; any colour >= 1
    counts as kept), then ``class_averages.star`` (``rlnClassNumber``, else the image index of
    ``rlnReferenceImage``), then ``particles.star`` (a class is kept if any of its particles is).
    """
    path = Path(selection)
    if path.is_dir():
        for name in ("backup_selection.star", "class_averages.star", "particles.star"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise CryoDiscoveryError(path, "holds no backup_selection.star, class_averages.star or particles.star")
    if path.name.startswith("backup_selection"):
        return _from_backup(path, n_classes)
    if path.name.startswith("class_averages"):
        return _from_class_averages(path, n_classes)
    return _from_particles(path, n_classes)


def _first_table(path: Path):
    blocks = read_blocks(path)
    table = next(iter(blocks.values()))
    if isinstance(table, dict):
        import pandas as pd

        table = pd.DataFrame({key: [value] for key, value in table.items()})
    return table


def _integers(values: object, path: Path, label: str) -> np.ndarray:
    """A STAR column as whole numbers, or a clear error naming the file and the column."""
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise CryoDiscoveryError(path, f"_{label} holds a value that is not a number") from None
    if not np.all(np.isfinite(numbers)) or np.any(numbers != np.round(numbers)) or np.any(np.abs(numbers) > 2**31):
        raise CryoDiscoveryError(path, f"_{label} holds a value that is not a whole number")
    return numbers.astype(np.int64)


def _from_backup(path: Path, n_classes: int) -> np.ndarray:
    table = _first_table(path)
    if "rlnSelected" not in table.columns:
        raise CryoDiscoveryError(path, "has no _rlnSelected column")
    if len(table) != n_classes:
        raise CryoDiscoveryError(path, f"has {len(table)} rows but the job has {n_classes} classes")
    return (_integers(table["rlnSelected"], path, "rlnSelected") > 0).astype(np.int64)


def _mark(path: Path, numbers: np.ndarray, n_classes: int) -> np.ndarray:
    if len(numbers) and (numbers.min() < 1 or numbers.max() > n_classes):
        raise CryoDiscoveryError(path, f"names class {int(numbers.max())} but the job has {n_classes} classes")
    labels = np.zeros(n_classes, dtype=np.int64)
    labels[numbers - 1] = 1
    return labels


def _from_class_averages(path: Path, n_classes: int) -> np.ndarray:
    table = _first_table(path)
    if "rlnClassNumber" in table.columns:
        numbers = _integers(table["rlnClassNumber"], path, "rlnClassNumber")
    elif "rlnReferenceImage" in table.columns:
        matches = [_INDEX.match(str(name)) for name in table["rlnReferenceImage"]]
        if not all(matches):
            raise CryoDiscoveryError(path, "rlnReferenceImage values are not index@stack references")
        numbers = np.array([int(m.group(1)) for m in matches], dtype=np.int64)
    else:
        raise CryoDiscoveryError(path, "has neither _rlnClassNumber nor _rlnReferenceImage")
    return _mark(path, numbers, n_classes)


def _from_particles(path: Path, n_classes: int) -> np.ndarray:
    return _mark(path, np.unique(scan_particles(path).class_numbers), n_classes)
