"""The one MRC reader and ``N@file`` parser (relion/mrc.py)."""

from __future__ import annotations

import mrcfile
import numpy as np
import pytest

from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.relion.mrc import read_mrc, split_image_reference


@pytest.mark.parametrize("reference, parsed", [
    ("000003@Class2D/job001/run_it020_classes.mrcs", (3, "Class2D/job001/run_it020_classes.mrcs")),
    ("  12@a.mrcs ", (12, "a.mrcs")),
    ("Class3D/job002/run_it025_class001.mrc", (None, "Class3D/job002/run_it025_class001.mrc")),
    ("1@dir@odd/a.mrcs", (1, "dir@odd/a.mrcs")),  # only the first @ separates
])
def test_split_image_reference(reference, parsed):
    assert split_image_reference(reference) == parsed


def test_split_image_reference_refuses_a_non_integer_index():
    with pytest.raises(ValueError):
        split_image_reference("x1@a.mrcs")


def test_read_mrc_copy_and_memory_map_agree(tmp_path):
    path = tmp_path / "stack.mrcs"
    data = np.arange(3 * 8 * 8, dtype=np.int16).reshape(3, 8, 8)
    with mrcfile.new(path) as mrc:
        mrc.set_data(data)
        mrc.voxel_size = 1.5
    copy, voxel = read_mrc(path)
    mapped, mapped_voxel = read_mrc(str(path), mmap=True)
    assert copy.dtype == np.float32 and mapped.dtype == np.int16
    assert voxel == mapped_voxel == pytest.approx(1.5)
    assert np.array_equal(copy, mapped[...].astype(np.float32))


def test_read_mrc_refuses_a_truncated_file(tmp_path):
    path = tmp_path / "map.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.zeros((8, 8, 8), dtype=np.float32))
    path.write_bytes(path.read_bytes()[:-100])
    for mmap in (False, True):
        with pytest.raises(CryoDiscoveryError, match="truncated"):
            read_mrc(path, mmap=mmap)
