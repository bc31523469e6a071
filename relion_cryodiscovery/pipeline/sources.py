"""What a run reads: a Class2D/Class3D job given by any of its STAR files or its directory, or an MRC file.

The External job is given ``run_itNNN_data.star`` and finds the rest through
:func:`relion_cryodiscovery.relion.job.locate_job`. ``score`` also takes any ``<prefix>_model.star``,
``<prefix>_optimiser.star`` or ``<prefix>_data.star`` (siblings share the prefix; only the model.star is
needed), RELION 3.0's files as well as 3.1's and later, and a ``.mrcs`` stack of class averages or a
``.mrc`` 3D map, scored as one 3D class (:func:`read_classes`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..relion.classes import ClassSet
from ..errors import CryoDiscoveryError

if TYPE_CHECKING:
    from ..relion.job import ClassificationJob

STACK_SUFFIXES = (".mrcs", ".mrc")
_KINDS = ("data", "model", "optimiser")
_PREFIXED = re.compile(r"^(?P<root>.+)_(?P<kind>data|model|optimiser)\.star$")
_ITERATION = re.compile(r"_it(\d{3,})$")


def locate_scored_job(path: Path) -> "ClassificationJob":
    """The job files behind a score input: a job directory, a ``run_[ctNN_]itNNN_*.star`` (RELION's
    names) or any ``<prefix>_model.star``/``_optimiser.star``/``_data.star`` whose ``<prefix>_model.star`` exists."""
    from ..relion.job import ClassificationJob, locate_job

    match = _PREFIXED.match(path.name)
    if path.is_dir() or (match and _ITERATION.search(match["root"])):
        return locate_job(path, require_data=False)
    if not match:
        raise CryoDiscoveryError(
            path, "expected a class-average stack (.mrcs), a 3D map (.mrc), a job directory or a "
                  "*_model.star, *_optimiser.star or *_data.star of a Class2D/Class3D job")
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    root = str(path.parent / match["root"])
    data_star, model_star, optimiser_star = (Path(f"{root}_{kind}.star") for kind in _KINDS)
    if not model_star.is_file():
        raise CryoDiscoveryError(model_star, f"file not found (the class images are listed there; needed beside {path.name})")
    return ClassificationJob(
        root=root,
        iteration=0,
        data_star=data_star if data_star.is_file() else None,
        model_star=model_star,
        optimiser_star=optimiser_star if optimiser_star.is_file() else None,
    )


def read_classes(source: str | Path, angpix: float | None = None) -> ClassSet:
    """The classes to score in ``source``: a job (directory or STAR file), a stack of class averages or a map.

    ``angpix`` sets the pixel size (needed for a stack whose header has none)."""
    from ..relion import job as relion_job

    path = Path(source)
    if path.suffix in STACK_SUFFIXES:
        if not path.is_file():
            raise CryoDiscoveryError(path, "file not found")
        classes = relion_job.read_bare_classes(path, angpix)
        if classes.dimensionality == 3:
            shape = " x ".join(map(str, classes.images.shape[1:]))
            print(f"NOTE: {path} holds a 3D map ({shape}), scored as one 3D class (a stack of 2D class "
                  "averages should be named .mrcs)")
        return classes
    classes = relion_job.read_job(locate_scored_job(path)).classes
    if angpix:
        classes.pixel_size = angpix
    return classes
