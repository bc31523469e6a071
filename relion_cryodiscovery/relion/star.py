"""STAR files: small tables read through ``starfile``, and the package's STAR API in one place.

Class-level files (``_model.star``, ``_optimiser.star``, ``job.star``, Select outputs) are small and read
here with ``starfile`` (:func:`read_blocks`, :func:`find_table`, :func:`read_pairs`). The rest lives by
purpose beside this module and is imported from here as before:

* :mod:`.star_tokenizer`: values of a row split as RELION splits them (:func:`star_values`), and a
  particle table cut into chunks of whole lines parsed with numpy;
* :mod:`.star_particles`: particle files streamed, never loaded: :func:`scan_particles` (the class of
  every particle in one pass), :func:`filter_particles` (the selected rows copied byte for byte),
  :func:`particle_columns`, :func:`pixel_size_of`;
* :mod:`.star_writer`: small tables written in RELION's layout (:func:`write_table`, :func:`write_pairs`).

pandas and ``starfile`` are imported where a small table is read or written, not with this module: the
particle pass needs numpy only, so the External job runs it in a thread beside its own imports.
"""

from __future__ import annotations

import linecache
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CryoDiscoveryError
from .star_particles import (ParticleScan, filter_particles, particle_columns, pixel_size_of,
                             scan_particles)
from .star_tokenizer import UnclosedQuote, star_values
from .star_writer import format_rows, format_value, write_pairs, write_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ParticleScan", "UnclosedQuote", "filter_particles", "find_table", "format_rows", "format_value",
           "particle_columns", "pixel_size_of", "read_blocks", "read_pairs", "scan_particles", "star_values",
           "write_pairs", "write_table"]


def read_blocks(path: str | Path, first: int | None = None) -> "dict[str, pd.DataFrame | dict]":
    """All data blocks of a small STAR file (only its ``first`` blocks if given), by block name; a clear
    error if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    if path.stat().st_size == 0:
        raise CryoDiscoveryError(path, "file is empty")
    import starfile

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            blocks = starfile.read(path, read_n_blocks=first, always_dict=True)
    except Exception as error:  # starfile raises many kinds on malformed input
        raise CryoDiscoveryError(path, f"not a readable STAR file ({type(error).__name__}: {error})") from None
    finally:  # starfile reads through linecache and clears it only on success: stale lines would outlive a failure
        linecache.clearcache()
    skipped = [str(w.message) for w in caught if "cannot be read" in str(w.message)]
    if skipped:  # starfile drops a block it cannot parse; a half-read file is not a clean read
        raise CryoDiscoveryError(path, f"not a readable STAR file ({skipped[0]})")
    if not blocks:
        raise CryoDiscoveryError(path, "no data blocks found")
    return blocks


def _as_table(table: "pd.DataFrame | dict") -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame({key: [value] for key, value in table.items()}) if isinstance(table, dict) else table


def find_table(path: str | Path, block: str | None = None, columns: tuple[str, ...] = ()) -> "pd.DataFrame":
    """A table of a small STAR file: block ``block`` if given and present, else the first one
    holding all ``columns`` (RELION's Select outputs use an unnamed ``data_`` block)."""
    blocks = read_blocks(path)
    candidates = [blocks[block]] if block is not None and block in blocks else list(blocks.values())
    for table in map(_as_table, candidates):
        if all(column in table.columns for column in columns):
            return table
    wanted = ", ".join(f"_{c}" for c in columns) or f"data_{block}"
    raise CryoDiscoveryError(path, f"has no table with {wanted}")


def read_pairs(path: str | Path, block: str) -> dict:
    """A key/value (non-loop) block, e.g. ``optimiser_general`` or ``model_general``."""
    table = read_blocks(path).get(block)
    if table is None:
        raise CryoDiscoveryError(path, f"has no data_{block} block")
    if not isinstance(table, dict):  # a loop (DataFrame)
        if len(table) != 1:
            raise CryoDiscoveryError(path, f"data_{block} should hold one set of values, has {len(table)} rows")
        return table.iloc[0].to_dict()
    return dict(table)
