"""Small STAR files written in RELION's own layout: key/value blocks (:func:`write_pairs`) and loop
tables (:func:`write_table`), values formatted as RELION writes them (:func:`format_value`). A particle
file's selected rows are copied verbatim by :func:`.star_particles.filter_particles` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def format_value(value: object) -> str:
    """A value as RELION writes it (floats with 6 decimals, ints plain, strings as-is)."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        return f"{float(value):.6f}" if 1e-4 <= abs(value) < 1e9 or value == 0 else f"{float(value):.6e}"
    text = str(value)
    return text if text and not any(ch.isspace() for ch in text) else f'"{text}"'


def format_rows(table: pd.DataFrame) -> str:
    """Loop rows in RELION's layout, one per line (vectorised: fast for large simulated tables)."""
    if table.empty:
        return ""
    columns = [table[column].map(format_value) for column in table.columns]
    return "".join(" ".join(values) + " \n" for values in zip(*columns))


def write_table(out: TextIO, block: str, table: pd.DataFrame, version: int | None = 30001) -> None:
    """Write one loop table in RELION's layout (no blank lines inside the loop)."""
    if version is not None:
        out.write(f"\n# version {version}\n")
    out.write(f"\ndata_{block}\n\nloop_ \n")
    for i, column in enumerate(table.columns, start=1):
        out.write(f"_{column} #{i} \n")
    out.write(format_rows(table))
    out.write("\n")


def write_pairs(out: TextIO, block: str, values: dict, version: int | None = 30001) -> None:
    """Write a key/value block in RELION's layout."""
    if version is not None:
        out.write(f"\n# version {version}\n")
    out.write(f"\ndata_{block}\n\n")
    for key, value in values.items():
        out.write(f"_{key:<40} {format_value(value):>12}\n")
    out.write("\n")
