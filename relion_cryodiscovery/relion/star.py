"""STAR files: small tables through ``starfile``, particle tables streamed line by line.

Class-level files (``_model.star``, ``_optimiser.star``, ``job.star``) are small and read with
``starfile``. A ``_data.star`` can hold millions of particles, so it is never loaded into a
DataFrame: :func:`scan_particles` reads the class column in one pass, and
:func:`filter_particles` copies the optics block, the header and the selected rows verbatim
(every column, original order, original number formatting). :func:`write_table` writes small
RELION-style tables.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import numpy as np
import pandas as pd
import starfile

from ..errors import CryoDiscoveryError


def read_blocks(path: str | Path) -> dict[str, pd.DataFrame | dict]:
    """All data blocks of a small STAR file, by block name; a clear error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    if path.stat().st_size == 0:
        raise CryoDiscoveryError(path, "file is empty")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            blocks = starfile.read(path, always_dict=True)
    except Exception as error:  # starfile raises many kinds on malformed input
        raise CryoDiscoveryError(path, f"not a readable STAR file ({type(error).__name__}: {error})") from None
    skipped = [str(w.message) for w in caught if "cannot be read" in str(w.message)]
    if skipped:  # starfile drops a block it cannot parse; a half-read file is not a clean read
        raise CryoDiscoveryError(path, f"not a readable STAR file ({skipped[0]})")
    if not blocks:
        raise CryoDiscoveryError(path, "no data blocks found")
    return blocks


def read_table(path: str | Path, block: str) -> pd.DataFrame:
    """One loop table of a small STAR file."""
    blocks = read_blocks(path)
    if block not in blocks:
        raise CryoDiscoveryError(path, f"has no data_{block} table (found: {', '.join(map(repr, blocks)) or 'none'})")
    table = blocks[block]
    if isinstance(table, dict):
        table = pd.DataFrame({key: [value] for key, value in table.items()})
    return table


def read_pairs(path: str | Path, block: str) -> dict:
    """A key/value (non-loop) block, e.g. ``optimiser_general`` or ``model_general``."""
    table = read_blocks(path).get(block)
    if table is None:
        raise CryoDiscoveryError(path, f"has no data_{block} block")
    if isinstance(table, pd.DataFrame):
        if len(table) != 1:
            raise CryoDiscoveryError(path, f"data_{block} should hold one set of values, has {len(table)} rows")
        return table.iloc[0].to_dict()
    return dict(table)


@dataclass
class ParticleScan:
    """What one pass over a particle STAR file found."""

    path: Path
    #: Class number of every particle row, in file order.
    class_numbers: np.ndarray
    #: Column labels of the particle table (without the leading underscore).
    columns: list[str]
    #: True when the file has a ``data_optics`` block (RELION 3.1 and later).
    has_optics: bool
    #: Name of the particle block (``particles`` for 3.1+, ``""`` for RELION 3.0).
    block: str

    def counts(self, n_classes: int) -> np.ndarray:
        """Particles per class 1..n_classes."""
        return np.bincount(self.class_numbers, minlength=n_classes + 1)[1 : n_classes + 1]


def _open_text(path: Path) -> TextIO:
    try:
        return path.open("r", encoding="utf-8", errors="strict", newline="")
    except OSError as error:
        raise CryoDiscoveryError(path, f"cannot be opened ({error.strerror})") from None


def _is_row(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(("#", "_", "data_", "loop_"))


def _particle_header(lines: Iterator[str], path: Path) -> tuple[list[str], list[str], bool, str, str | None]:
    """Consume lines up to the first particle row.

    Returns (header lines verbatim, column labels, has_optics, block name, first row or None).
    """
    header: list[str] = []
    block: str | None = None
    has_optics = False
    columns: list[str] = []
    in_loop = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("data_"):
            block = stripped[5:]
            has_optics |= block == "optics"
            columns, in_loop = [], False
        elif stripped.startswith("loop_"):
            in_loop = True
        elif stripped.startswith("_") and in_loop:
            columns.append(stripped.split()[0][1:])
        elif _is_row(line) and block is not None and block in ("particles", "") and in_loop and columns:
            return header, columns, has_optics, block, line
        header.append(line)
    if block is None:
        raise CryoDiscoveryError(path, "not a STAR file (no data_ block)")
    if block not in ("particles", "") or not columns:
        raise CryoDiscoveryError(path, "has no data_particles table")
    return header, columns, has_optics, block, None


def scan_particles(path: str | Path, class_column: str = "rlnClassNumber") -> ParticleScan:
    """One streaming pass: the class number of every particle."""
    path = Path(path)
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    with _open_text(path) as handle:
        try:
            header, columns, has_optics, block, first = _particle_header(iter(handle), path)
            if class_column not in columns:
                raise CryoDiscoveryError(path, f"particle table has no _{class_column} column")
            index = columns.index(class_column)
            n_columns = len(columns)
            numbers: list[int] = []
            append = numbers.append
            line_number = len(header) + 1
            for line in _rows(first, handle):
                fields = line.split()
                if len(fields) != n_columns:
                    raise CryoDiscoveryError(
                        path, f"line {line_number}: {len(fields)} values for {n_columns} columns (truncated or corrupt?)"
                    )
                append(int(float(fields[index])))
                line_number += 1
        except UnicodeDecodeError:
            raise CryoDiscoveryError(path, "is not a text STAR file (undecodable bytes)") from None
        except (ValueError, OverflowError):
            raise CryoDiscoveryError(path, f"line {line_number}: _{class_column} is not a number") from None
    if not numbers:
        raise CryoDiscoveryError(path, "particle table has no rows")
    return ParticleScan(path, np.asarray(numbers, dtype=np.int64), columns, has_optics, block)


def _rows(first: str | None, handle: Iterable[str]) -> Iterator[str]:
    """Particle rows: from ``first`` until a blank line, a new block or the end of file."""
    if first is None:
        return
    yield first
    for line in handle:
        stripped = line.strip()
        if not stripped:
            return
        if stripped.startswith("#"):
            continue
        if stripped.startswith(("data_", "loop_", "_")):
            return
        yield line


def filter_particles(scan: ParticleScan, keep_classes: Iterable[int], out: TextIO) -> int:
    """Copy the file verbatim, keeping only particle rows of ``keep_classes``; returns rows written."""
    keep = np.zeros(max(int(scan.class_numbers.max()), max(keep_classes, default=0)) + 1, dtype=bool)
    keep[list(keep_classes)] = True
    row_keep = keep[scan.class_numbers]
    written = 0
    with _open_text(scan.path) as handle:
        header, _, _, _, first = _particle_header(iter(handle), scan.path)
        out.writelines(header)
        for i, line in enumerate(_rows(first, handle)):
            if row_keep[i]:
                out.write(line if line.endswith("\n") else line + "\n")
                written += 1
    out.write("\n")
    return written


def format_value(value: object) -> str:
    """A value as RELION writes it (floats with 6 decimals, ints plain, strings as-is)."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        return f"{float(value):.6f}" if 1e-4 <= abs(value) < 1e7 or value == 0 else f"{float(value):.6e}"
    text = str(value)
    return text if text and not any(ch.isspace() for ch in text) else f'"{text}"'


def write_table(out: TextIO, block: str, table: pd.DataFrame, version: int | None = 30001) -> None:
    """Write one loop table in RELION's layout (no blank lines inside the loop)."""
    if version is not None:
        out.write(f"\n# version {version}\n")
    out.write(f"\ndata_{block}\n\nloop_ \n")
    for i, column in enumerate(table.columns, start=1):
        out.write(f"_{column} #{i} \n")
    for row in table.itertuples(index=False):
        out.write(" ".join(format_value(value) for value in row) + " \n")
    out.write("\n")


def write_pairs(out: TextIO, block: str, values: dict, version: int | None = 30001) -> None:
    """Write a key/value block in RELION's layout."""
    if version is not None:
        out.write(f"\n# version {version}\n")
    out.write(f"\ndata_{block}\n\n")
    for key, value in values.items():
        out.write(f"_{key:<40} {format_value(value)}\n")
    out.write("\n")
