"""Find and read the files of a RELION Class2D/Class3D job.

RELION passes the External job only ``--in_parts Class2D/jobNNN/run_itNNN_data.star``; the
model, optimiser and class images are its siblings with the same root (how ``relion_display``
finds them). Paths inside STAR files are relative to the project directory, which is the
working directory when RELION runs us; when run elsewhere, a path is also looked up relative to
the project directory implied by the job path and next to the STAR file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .classes import MODEL_CLASS_COLUMNS, ClassSet
from ..errors import CryoDiscoveryError
from .mrc import mrc_layout, read_mrc, split_image_reference
from .star import ParticleScan, read_blocks, read_pairs, scan_particles

if TYPE_CHECKING:
    from concurrent.futures import Future

    import pandas as pd

_ROOT_PATTERN = re.compile(r"^(?P<root>.*_it(?P<iteration>\d{3,}))_(?P<kind>data|model|optimiser)\.star$")
_JOB_FILE = re.compile(r"^run_(ct\d+_)?it(\d{3,})_optimiser\.star$")


@dataclass
class ClassificationJob:
    """The files of one iteration of a Class2D/Class3D job."""

    #: e.g. ``Class2D/job001/run_it020`` (paths as given, usually project-relative).
    root: str
    iteration: int
    #: None only when the caller allowed a job without particles (scoring a model.star).
    data_star: Path | None
    model_star: Path
    optimiser_star: Path | None


def locate_job(path: str | Path, require_data: bool = True) -> ClassificationJob:
    """A ``_data.star``, ``_model.star``, ``_optimiser.star`` or job directory -> its files."""
    path = Path(path)
    if path.is_dir():
        path = _last_iteration(path)
    match = _ROOT_PATTERN.match(str(path))
    if not match:
        raise CryoDiscoveryError(
            path, "expected a RELION run_[ctNN_]itNNN_data.star, _model.star or _optimiser.star (or the job directory)"
        )
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    root = match["root"]
    data_star, model_star, optimiser_star = (Path(f"{root}_{kind}.star") for kind in ("data", "model", "optimiser"))
    for needed in (data_star, model_star) if require_data else (model_star,):
        if not needed.is_file():
            raise CryoDiscoveryError(needed, f"file not found (needed beside {path.name})")
    return ClassificationJob(
        root=root,
        iteration=int(match["iteration"]),
        data_star=data_star if data_star.is_file() else None,
        model_star=model_star,
        optimiser_star=optimiser_star if optimiser_star.is_file() else None,
    )


def _last_iteration(directory: Path) -> Path:
    candidates = [p for p in directory.iterdir() if _JOB_FILE.match(p.name)]
    if not candidates:
        raise CryoDiscoveryError(directory, "holds no run_itNNN_optimiser.star (not a Class2D/Class3D job directory?)")
    return max(candidates, key=lambda p: (int(_JOB_FILE.match(p.name).group(2)), p.name))


def path_candidates(name: str, star_file: Path, project_dir: Path | None = None) -> list[Path]:
    """Where a path written inside ``star_file`` may be: relative to the given project, the working
    directory (RELION's project directory when it runs us) or the STAR file's ancestors, or beside it."""
    candidate = Path(name)
    if candidate.is_absolute():
        return [candidate]
    bases = ([Path(project_dir)] if project_dir else []) + [Path(".")] + list(star_file.resolve().parents)[:3]
    return [base / candidate for base in bases] + [star_file.parent / candidate.name]


def resolve_path(name: str, star_file: Path, project_dir: Path | None = None) -> Path:
    """A path written inside ``star_file`` -> an existing file, or a clear error."""
    for option in path_candidates(name, star_file, project_dir):
        if option.is_file():
            return option
    raise CryoDiscoveryError(star_file, f"refers to {name}, which was not found")


def _image_reference(reference: str, star_file: Path,
                     resolved: dict[str, Path] | None = None) -> tuple[int | None, Path]:
    """``000001@Class2D/job001/run_it020_classes.mrcs`` -> (1, path); a map path -> (None, path).
    ``resolved`` remembers each file's path (a 2D job's classes share one stack: one lookup, not one
    per class)."""
    try:
        index, name = split_image_reference(reference)
    except ValueError:
        raise CryoDiscoveryError(star_file, f"bad image reference {reference!r}") from None
    if resolved is None:
        return index, resolve_path(name, star_file)
    if name not in resolved:
        resolved[name] = resolve_path(name, star_file)
    return index, resolved[name]


def read_class_images(parsed: list[tuple[int | None, Path]], star_file: Path) -> tuple[np.ndarray, int, float | None]:
    """Class images from parsed ``rlnReferenceImage`` values -> (images, dimensionality, voxel size)."""
    if all(index is not None for index, _ in parsed):
        stacks: dict[Path, np.ndarray] = {}
        voxel = None
        images = []
        for index, path in parsed:
            if path not in stacks:
                data, voxel = read_mrc(path)
                stacks[path] = data[None] if data.ndim == 2 else data
            stack = stacks[path]
            if not 1 <= index <= len(stack):
                raise CryoDiscoveryError(path, f"has {len(stack)} images but class image {index} is requested")
            images.append(stack[index - 1])
        if len({image.shape for image in images}) != 1:
            raise CryoDiscoveryError(star_file, "class images have different sizes")
        return np.stack(images), 2, voxel
    maps = []
    voxel = None
    for index, path in parsed:
        data, voxel = read_mrc(path)
        if data.ndim != 3 or len(set(data.shape)) != 1:
            raise CryoDiscoveryError(path, f"expected a cubic 3D class map, found shape {data.shape}")
        maps.append(data)
    if len({m.shape for m in maps}) != 1:
        raise CryoDiscoveryError(star_file, "class maps have different sizes")
    return np.stack(maps), 3, voxel


def _numbers(values: object, star_file: Path, label: str) -> np.ndarray:
    """A STAR column or value as float64, or a clear error naming the label."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise CryoDiscoveryError(star_file, f"_{label} holds a value that is not a number") from None


def _float_or_none(values: dict, key: str) -> float | None:
    try:
        value = float(values[key])
    except (KeyError, TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def read_model_classes(model_star: Path) -> "tuple[pd.DataFrame, dict]":
    """The ``model_classes`` table and ``model_general`` values of a ``_model.star``.

    RELION writes these two blocks first; the rest of the file (per-class spectra, orientation
    distributions, groups: ~2 blocks per class, ~400 in a 200-class job, each a pandas table to
    starfile) is needed by nothing here and is read only when the first two blocks are not these.
    """
    import pandas as pd

    blocks = read_blocks(model_star, first=2)
    if not {"model_general", "model_classes"} <= blocks.keys():
        blocks = read_blocks(model_star)
    if "model_classes" not in blocks:
        raise CryoDiscoveryError(model_star, "has no data_model_classes table (not a RELION _model.star?)")
    classes = blocks["model_classes"]
    if isinstance(classes, dict):
        classes = pd.DataFrame({key: [value] for key, value in classes.items()})
    if "rlnReferenceImage" not in classes.columns:
        raise CryoDiscoveryError(model_star, "data_model_classes has no _rlnReferenceImage column")
    general = blocks.get("model_general", {})
    if not isinstance(general, dict):
        general = general.iloc[0].to_dict()
    return classes, general


@dataclass
class JobContents:
    """What was read from a job: the classes, the particle scan and the raw tables."""

    classes: ClassSet
    #: None when the job has no data.star (particle counts then missing).
    scan: ParticleScan | None
    #: ``model_classes`` as read (for class_averages.star and rank_model.star).
    model_classes: "pd.DataFrame"
    #: ``optimiser_general`` values ({} when there is no optimiser.star).
    optimiser: dict
    #: The file holding each class image (the stack for 2D, the map for 3D).
    image_files: list[Path]
    #: The data.star's scan still running (``read_job(..., wait=False)``): :meth:`collect_scan` takes it.
    scanning: "Future[ParticleScan] | None" = None

    def collect_scan(self) -> None:
        """Wait for the data.star's scan left running by :func:`read_job` (if any), check its class
        numbers and count the particles per class (``classes.particle_counts``)."""
        if self.scanning is None:
            return
        scan, self.scanning = self.scanning.result(), None
        _check_class_numbers(scan, self.classes.n_classes)
        self.scan = scan
        self.classes.particle_counts = scan.counts(self.classes.n_classes)


def _check_class_numbers(scan: ParticleScan, k: int) -> None:
    out_of_range = scan.class_numbers[(scan.class_numbers < 1) | (scan.class_numbers > k)]
    if len(out_of_range):
        raise CryoDiscoveryError(
            scan.path, f"_rlnClassNumber {int(out_of_range[0])} is outside 1..{k} (the model has {k} classes)"
        )


def read_job(job: ClassificationJob, scanning: "Future[ParticleScan] | None" = None,
             wait: bool = True) -> JobContents:
    """Everything the model and the outputs need about a job's classes.

    ``scanning``: the data.star's :func:`.star.scan_particles` already started (the External job runs
    it in a thread beside its imports), collected where this would scan; else it is scanned here.
    ``wait=False`` leaves it running when nothing read here needs it (the model.star gives the pixel
    size): the particle counts are then missing until :meth:`JobContents.collect_scan`.
    """
    table, general = read_model_classes(job.model_star)
    k = len(table)
    if k == 0:
        raise CryoDiscoveryError(job.model_star, "data_model_classes has no rows")
    declared = general.get("rlnNrClasses")
    if declared is not None and _numbers(declared, job.model_star, "rlnNrClasses") != k:
        raise CryoDiscoveryError(job.model_star, f"_rlnNrClasses is {declared} but data_model_classes has {k} rows")
    resolved: dict[str, Path] = {}
    references = [_image_reference(str(name), job.model_star, resolved) for name in table["rlnReferenceImage"]]
    images, dimensionality, voxel = read_class_images(references, job.model_star)
    pending = None
    if scanning is not None and not wait and _float_or_none(general, "rlnPixelSize"):
        scan, pending = None, scanning
    elif scanning is not None:
        scan = scanning.result()
    else:
        scan = scan_particles(job.data_star) if job.data_star else None
    if scan is not None:
        _check_class_numbers(scan, k)
    optimiser = read_pairs(job.optimiser_star, "optimiser_general") if job.optimiser_star else {}
    pixel_size = _float_or_none(general, "rlnPixelSize") or (scan.pixel_size if scan else None) or voxel
    metadata = {
        column: _numbers(table[column], job.model_star, column)
        for column in MODEL_CLASS_COLUMNS
        if column in table.columns
    }
    job_metadata = {
        key: float(_numbers(general[key], job.model_star, key))
        for key in ("rlnCurrentResolution", "rlnAveragePmax")
        if key in general
    }
    classes = ClassSet(
        dimensionality=dimensionality,
        class_numbers=np.arange(1, k + 1),
        images=images,
        pixel_size=pixel_size,
        particle_diameter=_float_or_none(optimiser, "rlnParticleDiameter"),
        metadata=metadata,
        particle_counts=scan.counts(k) if scan else None,
        job_metadata=job_metadata,
        source=str(job.model_star),
    )
    return JobContents(
        classes=classes,
        scan=scan,
        model_classes=table,
        optimiser=optimiser,
        image_files=[path for _, path in references],
        scanning=pending,
    )


def read_bare_classes(path: Path, pixel_size: float | None) -> ClassSet:
    """Classes from an MRC file alone, all metadata missing: a stack of 2D class averages (e.g.
    exported from another package) or one 3D map, scored as one 3D class (see :func:`.mrc.mrc_layout`)."""
    layout = mrc_layout(path)
    if layout == "volume stack":
        raise CryoDiscoveryError(path, "is a stack of 3D volumes (MRC space group 401-630); give one map")
    data, voxel = read_mrc(path)
    if layout == "volume":
        if len(set(data.shape)) != 1:
            shape = " x ".join(map(str, data.shape[::-1]))
            raise CryoDiscoveryError(path, f"is a 3D map by its MRC header (space group 1-230) but not a "
                                           f"cube ({shape}); name a stack of 2D class averages .mrcs")
        return ClassSet(dimensionality=3, class_numbers=np.arange(1, 2), images=data[None],
                        pixel_size=pixel_size or voxel, source=str(path))
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[1] != data.shape[2]:
        raise CryoDiscoveryError(path, f"expected a stack of square 2D class averages, found shape {data.shape}")
    return ClassSet(
        dimensionality=2,
        class_numbers=np.arange(1, len(data) + 1),
        images=data,
        pixel_size=pixel_size or voxel,
        source=str(path),
    )
