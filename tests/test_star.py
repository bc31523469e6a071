"""Streaming particle STAR reading and filtering."""

import io
from pathlib import Path

import pytest
import starfile

from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.relion.star import filter_particles, scan_particles

DATA_31 = """
# version 30001

data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnImagePixelSize #3
_rlnImageSize #4
_rlnImageDimensionality #5
1 opticsGroup1 2.000000 64 2

# version 30001

data_particles

loop_
_rlnImageName #1
_rlnDefocusU #2
_rlnClassNumber #3
_rlnOpticsGroup #4
000001@Simulated/particles.mrcs 20000.000000 2 1
000002@Simulated/particles.mrcs 21000.500000 1 1
000003@Simulated/particles.mrcs 22000.000000 3 1
000004@Simulated/particles.mrcs 23000.000000 2 1

"""

DATA_30 = """
data_

loop_
_rlnImageName #1
_rlnClassNumber #2
1@p.mrcs 1
2@p.mrcs 2
"""


def _write(tmp_path: Path, text: str, name: str = "run_it010_data.star") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_scan_counts_classes(tmp_path):
    scan = scan_particles(_write(tmp_path, DATA_31))
    assert scan.has_optics and scan.block == "particles"
    assert list(scan.class_numbers) == [2, 1, 3, 2]
    assert list(scan.counts(4)) == [1, 2, 1, 0]


def test_filter_keeps_optics_and_rows_verbatim(tmp_path):
    path = _write(tmp_path, DATA_31)
    out = io.StringIO()
    written = filter_particles(scan_particles(path), [2], out)
    assert written == 2
    text = out.getvalue()
    assert "1 opticsGroup1 2.000000 64 2" in text
    assert "000001@Simulated/particles.mrcs 20000.000000 2 1" in text
    assert "21000.500000" not in text
    (tmp_path / "out.star").write_text(text)
    blocks = starfile.read(tmp_path / "out.star", always_dict=True)
    assert list(blocks["particles"]["rlnClassNumber"]) == [2, 2]
    assert len(blocks["optics"]) == 1


def test_relion30_file_without_optics(tmp_path):
    scan = scan_particles(_write(tmp_path, DATA_30))
    assert not scan.has_optics and scan.block == ""
    out = io.StringIO()
    assert filter_particles(scan, [2], out) == 1
    assert "2@p.mrcs 2" in out.getvalue() and "1@p.mrcs 1" not in out.getvalue()


DATA_30_IMAGES = """# RELION; version 3.0.8

data_images

loop_
_rlnImageName #1
_rlnClassNumber #2
_rlnDetectorPixelSize #3
_rlnMagnification #4
1@p.mrcs 1 14.000000 50000.000000
2@p.mrcs 2 14.000000 50000.000000
"""


def test_relion30_images_block_is_the_particle_table(tmp_path):
    """RELION 3.1 converts a file without data_optics from its first block, whatever its name."""
    path = _write(tmp_path, DATA_30_IMAGES)
    scan = scan_particles(path)
    assert not scan.has_optics and scan.block == "images" and list(scan.class_numbers) == [1, 2]
    assert scan.pixel_size == pytest.approx(2.8)  # 14 um * 1e4 / 50000
    out = io.BytesIO()
    assert filter_particles(scan, [2], out) == 1
    kept = DATA_30_IMAGES.replace("1@p.mrcs 1 14.000000 50000.000000\n", "")
    assert out.getvalue() == kept.encode() + b"\n"


def test_pixel_size_of_the_first_particle(tmp_path):
    assert scan_particles(_write(tmp_path, DATA_31)).pixel_size == pytest.approx(2.0)
    assert scan_particles(_write(tmp_path, DATA_30)).pixel_size is None


def test_a_31_file_needs_data_particles(tmp_path):
    """With data_optics first, only data_particles (or a bare data_) holds the particles, as in RELION 3.1."""
    text = DATA_31.replace("data_particles", "data_images")
    with pytest.raises(CryoDiscoveryError, match="has no particle table"):
        scan_particles(_write(tmp_path, text))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no data_ block"),
        (DATA_31.replace("_rlnClassNumber #3", "_rlnClassNumberX #3"), "no _rlnClassNumber column"),
        (DATA_31.replace("22000.000000 3 1", "22000.000000 3"), "truncated or corrupt"),
        (DATA_31.replace("22000.000000 3 1", "22000.000000 x 1"), "is not a number"),
        (DATA_31.split("000001@")[0], "no rows"),
    ],
)
def test_bad_particle_files_name_the_problem(tmp_path, text, message):
    with pytest.raises(CryoDiscoveryError, match=message) as error:
        scan_particles(_write(tmp_path, text))
    assert str(tmp_path) in error.value.one_line()


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "run_it010_data.star"
    path.write_bytes(b"\x00\xff\xfe" * 100)
    with pytest.raises(CryoDiscoveryError, match="not a"):
        scan_particles(path)


def test_particle_columns_reads_the_header(tmp_path):
    from relion_cryodiscovery.relion.star import particle_columns

    assert particle_columns(_write(tmp_path, DATA_31)) == ["rlnImageName", "rlnDefocusU", "rlnClassNumber",
                                                           "rlnOpticsGroup"]
