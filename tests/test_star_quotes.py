"""Quoted STAR values and trailing comments in the particle scan/filter, read as RELION 3.1.3 reads them."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.relion import star_tokenizer
from relion_cryodiscovery.relion.star import UnclosedQuote, filter_particles, scan_particles, star_values

OPTICS = (
    "\n# version 30001\n\ndata_optics\n\nloop_ \n_rlnOpticsGroup #1 \n_rlnOpticsGroupName #2 \n"
    "_rlnAmplitudeContrast #3 \n_rlnSphericalAberration #4 \n_rlnVoltage #5 \n_rlnImagePixelSize #6 \n"
    "_rlnImageSize #7 \n_rlnImageDimensionality #8 \n1 opticsGroup1 0.1 2.7 300.0 3.1 118 2 \n \n"
)
HEADER = (
    OPTICS + "\n# version 30001\n\ndata_particles\n\nloop_ \n_rlnImageName #1 \n_rlnMicrographName #2 \n"
    "_rlnOpticsGroup #3 \n_rlnClassNumber #4 \n_rlnAnglePsi #5 \n"
)
#: (micrograph value as written, class) for rows 1..; the value is what RELION reads it as.
ROWS = [
    ('"Micrographs/my dir/mic0000.mrc"', 1),
    ("'Micrographs/single q/mic0001.mrc'", 2),
    ("Micrographs/plain.mrc", 1),
    ('"Micrographs/it"s/mic.mrc"', 1),  # a quote not followed by a space does not close the value
    ('""', 2),
    ("'a\"b c'", 1),
    ("Micrographs/x.mrc", 1),
]


def quoted_file(tmp_path, rows=ROWS, trailing_comment: bool = True):
    lines = [f"{i:06d}@Extract/job005/a.mrcs  {name}\t1 {klass} 12.5 " for i, (name, klass) in enumerate(rows, 1)]
    if trailing_comment:
        lines[-1] += "# a comment after the last value"
    path = tmp_path / "run_it025_data.star"
    path.write_bytes((HEADER + "\n".join(lines) + "\n").encode())
    return path, [line + "\n" for line in lines]


@pytest.mark.parametrize(
    "line, values",
    [
        (b'a "my dir/m.mrc" 3', [b"a", b"my dir/m.mrc", b"3"]),
        (b"a 'my dir/m.mrc' 3", [b"a", b"my dir/m.mrc", b"3"]),
        (b'"it"s here" 1', [b'it"s here', b"1"]),
        (b'"" 1', [b"", b"1"]),
        (b"ab\"c d\" 1", [b'ab"c', b'd"', b"1"]),  # a quote inside a value opens nothing
        (b'"a\x07" b" 1', [b'a" b', b"1"]),  # RELION's BEL escape
        (b"1 2 # a comment 3", [b"1", b"2"]),
        (b"1 2#x 3", [b"1", b"2#x", b"3"]),  # '#' inside a value is not a comment
        (b"  1\t2  \n", [b"1", b"2"]),
    ],
)
def test_star_values_split_as_relion(line, values):
    assert [value for _, value in star_values(line)] == values


def test_star_values_offsets_point_at_each_value():
    line = b' x  "a b"  y'
    assert [offset for offset, _ in star_values(line)] == [1, 4, 11]


def test_unclosed_quote_is_refused():
    with pytest.raises(UnclosedQuote, match='no closing "'):
        star_values(b'1 "my dir/m.mrc 3')
    with pytest.raises(UnclosedQuote):
        star_values(b'1 "a"b 3')  # the only closing quote is followed by a letter


@pytest.mark.parametrize("chunk", [1, 13, 100, 8 << 20])
def test_quoted_values_scan_and_filter_byte_for_byte(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(star_tokenizer, "CHUNK_BYTES", chunk)
    path, rows = quoted_file(tmp_path)
    scan = scan_particles(path)
    assert list(scan.class_numbers) == [klass for _, klass in ROWS]
    out = io.BytesIO()
    assert filter_particles(scan, [1], out) == 5
    expected = HEADER.encode() + "".join(r for r, (_, k) in zip(rows, ROWS) if k == 1).encode() + b"\n"
    assert out.getvalue() == expected


def test_quoted_class_number_is_read(tmp_path):
    path = tmp_path / "run_it025_data.star"
    path.write_text(HEADER + '1@a.mrcs m.mrc 1 "7" 0.0\n2@a.mrcs m.mrc 1 \'3\' 0.0\n')
    assert list(scan_particles(path).class_numbers) == [7, 3]


def test_unclosed_quote_names_the_line(tmp_path):
    path = tmp_path / "run_it025_data.star"
    path.write_text(HEADER + '1@a.mrcs m.mrc 1 2 0.0\n2@a.mrcs "my dir/m.mrc 1 2 0.0\n')
    first_row = HEADER.count("\n") + 1
    with pytest.raises(CryoDiscoveryError, match=f'line {first_row + 1}: no closing "'):
        scan_particles(path)


def test_quoted_value_with_space_still_needs_every_column(tmp_path):
    """A row that only has the right field count because a quoted value was split is still short."""
    path = tmp_path / "run_it025_data.star"
    path.write_text(HEADER + '1@a.mrcs "my dir/m.mrc" 1 2\n')
    with pytest.raises(CryoDiscoveryError, match="4 values for 5 columns"):
        scan_particles(path)


@pytest.mark.relion
@pytest.mark.skipif(shutil.which("relion_star_handler") is None, reason="relion_star_handler not on PATH")
def test_relion_star_handler_selects_the_same_rows(tmp_path):
    """RELION 3.1.3 reads the same file into the same rows: its --select output names the same images."""
    path, _ = quoted_file(tmp_path)
    selected = tmp_path / "relion.star"
    subprocess.run(["relion_star_handler", "--i", str(path), "--o", str(selected), "--select", "rlnClassNumber",
                    "--minval", "1", "--maxval", "1"], check=True, capture_output=True, cwd=tmp_path)
    relion_images = [line.split()[0] for line in selected.read_text().splitlines() if "@Extract" in line]
    out = io.StringIO()
    filter_particles(scan_particles(path), [1], out)
    ours = [line.split()[0] for line in out.getvalue().splitlines() if "@Extract" in line]
    assert ours == relion_images and len(ours) == 5
