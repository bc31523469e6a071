"""Load images that RELION STAR files point at (``k@stack.mrcs`` or ``map.mrc``), for evaluation.

RELION writes paths relative to the project directory; :func:`relion.job.resolve_path` tries an
explicit project directory, the working directory and the ancestors of the STAR file, in that order.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.relion.job import resolve_path
from relion_cryodiscovery.relion.mrc import read_mrc, split_image_reference
from relion_cryodiscovery.relion.star import find_table, pixel_size_of


def find_base(star_path: Path, ref: str, project_dir: str | Path | None = None) -> Path:
    """The directory relative to which image ``ref`` of ``star_path`` exists (the project directory)."""
    name = split_image_reference(ref)[1]
    found = resolve_path(name, Path(star_path), Path(project_dir) if project_dir else None)
    return Path(str(found)[: -len(name)] or ".") if str(found).endswith(name) else found.parent


class StackCache:
    """Memory-mapped MRC files opened once and reused; slices returned as float32 copies."""

    def __init__(self, context: Path, project_dir: str | Path | None = None):
        self.context, self.project_dir = Path(context), Path(project_dir) if project_dir else None
        self._open: dict[str, np.ndarray] = {}

    def read(self, ref: str) -> np.ndarray:
        """The image or map ``ref`` points at (1-based index before ``@``)."""
        index, name = split_image_reference(ref)
        if name not in self._open:
            self._open[name] = read_mrc(resolve_path(name, self.context, self.project_dir), mmap=True)[0]
        data = self._open[name]
        if index is None:
            return np.asarray(data, dtype=np.float32)
        stack = data if data.ndim == 3 else data[None]
        if not 1 <= index <= stack.shape[0]:
            raise CryoDiscoveryError(self.context, f"{ref}: index outside a stack of {stack.shape[0]}")
        return np.asarray(stack[index - 1], dtype=np.float32)


def _class_number_of(ref: str, row_index: int) -> int:
    """Class number from a reference name (``k@..._classes.mrcs`` or ``..._class00k.mrc``)."""
    index, name = split_image_reference(ref)
    if index is not None:
        return index
    match = re.search(r"class(\d+)\.mrc$", name)
    return int(match.group(1)) if match else row_index + 1


def load_class_images(star_path: str | Path, project_dir: str | Path | None = None) -> dict[int, np.ndarray]:
    """Class number -> image/map for each row of a class_averages.star (or model_classes table)."""
    star_path = Path(star_path)
    table = find_table(star_path, None, ("rlnReferenceImage",))
    cache = StackCache(star_path, project_dir)
    out: dict[int, np.ndarray] = {}
    for i, ref in enumerate(table["rlnReferenceImage"].astype(str)):
        if "rlnClassNumber" in table.columns:
            k = int(table["rlnClassNumber"].iloc[i])
        else:
            k = _class_number_of(ref, i)
        out[k] = cache.read(ref)
    return out


def read_particles(star_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(particles, optics) tables of a particles STAR file (optics None in RELION 3.0, any block name)."""
    star_path = Path(star_path)
    particles = find_table(star_path, "particles", ("rlnImageName",))
    try:
        optics = find_table(star_path, "optics", ("rlnOpticsGroup",))
    except CryoDiscoveryError:
        optics = None
    return particles, optics


def particle_pixel_size(particles: pd.DataFrame, optics: pd.DataFrame | None) -> float | None:
    """Pixel size in Angstrom from the optics table, or from the first particle of a RELION 3.0 file
    (:func:`~relion_cryodiscovery.relion.star.pixel_size_of`; an old ``rlnPixelSize`` column last)."""
    for table in (optics, particles):
        if table is None or table.empty:
            continue
        row = table.iloc[0].to_dict()
        value = pixel_size_of(row)
        if value is None and "rlnPixelSize" in row:
            value = float(row["rlnPixelSize"])
        if value is not None:
            return value
    return None


def load_all_class_images(path: str | Path, project_dir: str | Path | None = None) -> dict[int, np.ndarray]:
    """Images of every class from a ``.mrcs`` stack (class k = slice k) or a model/class_averages STAR."""
    path = Path(path)
    if path.suffix.lower() in (".mrcs", ".mrc"):
        cache = StackCache(path)
        data = cache.read(str(path.resolve()))
        if data.ndim == 2:
            data = data[None]
        return {k + 1: np.asarray(data[k], dtype=np.float32) for k in range(data.shape[0])}
    return load_class_images(path, project_dir)
