"""MRC files and RELION's image references: the one reader and the one ``N@file`` parser.

Class images, maps and particle stacks are all read through :func:`read_mrc`, which checks the
header against the file size before anything is allocated and turns every failure into a
:class:`~relion_cryodiscovery.errors.CryoDiscoveryError` naming the file. RELION names one image of
a stack ``N@stack.mrcs`` (N counted from 1); :func:`split_image_reference` parses that.
:func:`mrc_layout` says whether a file holds 2D images or a volume (RELION's names, then the header).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import mrcfile
import numpy as np
from mrcfile.dtypes import HEADER_DTYPE
from mrcfile.utils import byte_order_from_machine_stamp, dtype_from_mode

from ..errors import CryoDiscoveryError


def split_image_reference(reference: str) -> tuple[int | None, str]:
    """``'000003@a.mrcs'`` -> (3, ``'a.mrcs'``); ``'a.mrc'`` -> (None, ``'a.mrc'``).

    Raises ValueError when the part before ``@`` is not an integer."""
    reference = str(reference).strip()
    if "@" not in reference:
        return None, reference
    index, name = reference.split("@", 1)
    return int(index), name


def _header(path: Path) -> np.void:
    """The 1024-byte main header in the file's byte order, with its size checked."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            raw = handle.read(1024)
    except OSError as error:
        raise CryoDiscoveryError(path, f"cannot be read ({error.strerror})") from None
    if size < 1024:
        raise CryoDiscoveryError(path, f"not an MRC file ({size} bytes, shorter than the 1024-byte header)")
    try:
        order = byte_order_from_machine_stamp(np.frombuffer(raw, dtype=HEADER_DTYPE)[0]["machst"])
    except ValueError:  # unknown stamp: mrcfile (permissive) assumes native order
        order = "="
    return np.frombuffer(raw, dtype=HEADER_DTYPE.newbyteorder(order))[0]


def check_mrc_header(path: Path) -> np.void:
    """Refuse a file whose MRC header does not describe the data it holds (before anything is allocated);
    returns the header."""
    header = _header(path)
    size = path.stat().st_size
    nx, ny, nz, nsymbt = (int(header[name]) for name in ("nx", "ny", "nz", "nsymbt"))
    try:
        itemsize = dtype_from_mode(int(header["mode"])).itemsize
    except ValueError:
        raise CryoDiscoveryError(path, f"not a readable MRC file (unknown data mode {int(header['mode'])})") from None
    if min(nx, ny, nz) < 1 or nsymbt < 0:
        raise CryoDiscoveryError(path, f"MRC header is corrupt (dimensions {nx} x {ny} x {nz}, extended header {nsymbt})")
    expected = 1024 + nsymbt + nx * ny * nz * itemsize
    if expected > size:
        raise CryoDiscoveryError(
            path, f"MRC data are truncated: the header describes {expected} bytes but the file has {size}"
        )
    return header


def mrc_layout(path: str | Path) -> str:
    """What the sections of an MRC file are: ``"images"`` (one 2D image or a stack of them),
    ``"volume"`` or ``"volume stack"``.

    RELION's rule decides first: ``.mrcs`` is a stack of 2D images, whatever the header says. For
    ``.mrc`` with nz > 1 the MRC2014 space group (ISPG) decides: 1-230 a volume, 401-630 a stack of
    volumes. ISPG 0 (an image stack in MRC2014, but also what RELION and cryoSPARC write for every
    map) is ambiguous: a cube is a volume (RELION reads a ``.mrc`` as a 3D map), any other shape a
    stack of 2D images (e.g. cryoSPARC's class averages, which cannot be a class map).
    """
    path = Path(path)
    header = check_mrc_header(path)
    nx, ny, nz, ispg = (int(header[name]) for name in ("nx", "ny", "nz", "ispg"))
    if nz == 1 or path.suffix.lower() == ".mrcs":
        return "images"
    if 401 <= ispg <= 630:
        return "volume stack"
    if 1 <= ispg <= 230 or nx == ny == nz:
        return "volume"
    return "images"


def read_mrc(path: str | Path, mmap: bool = False) -> tuple[np.ndarray, float | None]:
    """Data and voxel size (None when the header has none) of an MRC file, with clear errors.

    The data are a float32 copy, or with ``mmap`` the file's own array, memory-mapped (for
    particle stacks read a slice at a time)."""
    path = Path(path)
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    check_mrc_header(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # permissive mode warns; the checks above decide
            with (mrcfile.mmap if mmap else mrcfile.open)(path, mode="r", permissive=True) as mrc:
                if mrc.data is None:
                    raise CryoDiscoveryError(path, "MRC header is unreadable or the data are truncated")
                if np.iscomplexobj(mrc.data):
                    raise CryoDiscoveryError(path, "MRC data are complex (Fourier-space?), expected real images")
                data = mrc.data if mmap else np.asarray(mrc.data, dtype=np.float32)
                voxel = float(mrc.voxel_size.x)
                voxel = voxel if np.isfinite(voxel) and voxel > 0 else None
    except CryoDiscoveryError:
        raise
    except (ValueError, OSError, EOFError) as error:
        raise CryoDiscoveryError(path, f"not a readable MRC file ({error})") from None
    return data, voxel
