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


def _write_mrc(path, data, ispg=None, stack=False, voxel=2.0):
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.asarray(data, dtype=np.float32))
        if stack:
            mrc.set_image_stack()  # ISPG 0
        if ispg is not None:
            mrc.header.ispg = ispg
        mrc.voxel_size = voxel
    return path


@pytest.mark.parametrize("name, shape, ispg, layout", [
    ("map.mrc", (64, 64, 64), 1, "volume"),            # MRC2014: a volume
    ("map.mrc", (64, 64, 64), 0, "volume"),            # what RELION and cryoSPARC write for every map
    ("classes.mrc", (20, 64, 64), 0, "images"),        # cryoSPARC class averages: not a cube, not a map
    ("map.mrc", (20, 64, 64), 1, "volume"),            # the header says volume (refused later: not a cube)
    ("classes.mrcs", (64, 64, 64), 1, "images"),       # RELION: .mrcs is always a stack
    ("maps.mrc", (2, 16, 16, 16), 401, "volume stack"),
    ("one.mrc", (64, 64), 1, "images"),
])
def test_mrc_layout_follows_relion_names_then_the_space_group(tmp_path, name, shape, ispg, layout):
    from relion_cryodiscovery.relion.mrc import mrc_layout

    path = _write_mrc(tmp_path / name, np.zeros(shape), ispg=ispg)
    assert mrc_layout(path) == layout


def test_a_map_is_one_3d_class_and_a_stack_is_2d_classes(tmp_path, capsys):
    """``score --i map.mrc`` must not score the z-sections of a map as 2D classes."""
    from relion_cryodiscovery.pipeline.sources import read_classes

    volume = np.random.default_rng(0).normal(size=(64, 64, 64))
    for ispg in (1, 0):
        classes = read_classes(_write_mrc(tmp_path / f"map{ispg}.mrc", volume, ispg=ispg))
        assert classes.dimensionality == 3 and classes.images.shape == (1, 64, 64, 64)
        assert classes.pixel_size == pytest.approx(2.0)
    assert "scored as one 3D class" in capsys.readouterr().out
    stack = read_classes(_write_mrc(tmp_path / "classes.mrcs", volume, stack=True), angpix=1.5)
    assert stack.dimensionality == 2 and stack.n_classes == 64 and stack.pixel_size == 1.5


@pytest.mark.parametrize("name, shape, ispg, problem", [
    ("map.mrc", (20, 64, 64), 1, "3D map by its MRC header .* not a cube .*averages .mrcs"),
    ("maps.mrc", (2, 16, 16, 16), 401, "stack of 3D volumes"),
])
def test_unscorable_maps_are_refused_in_one_line(tmp_path, name, shape, ispg, problem):
    from relion_cryodiscovery.pipeline.sources import read_classes

    path = _write_mrc(tmp_path / name, np.zeros(shape), ispg=ispg)
    with pytest.raises(CryoDiscoveryError, match=problem) as error:
        read_classes(path)
    assert str(path) in error.value.one_line() and "\n" not in error.value.one_line()
