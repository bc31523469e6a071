"""The chunked numpy particle scan/filter against a plain line-by-line reference, at tiny chunk sizes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.relion import star_tokenizer
from relion_cryodiscovery.relion.star import ParticleScan, filter_particles, scan_particles

HEADER = (
    "\n# version 30001\n\ndata_optics\n\nloop_ \n_rlnOpticsGroup #1 \n_rlnOpticsGroupName #2 \n"
    "           1 opticsGroup1 \n \n\n# version 30001\n\ndata_particles\n\nloop_ \n"
    "_rlnCoordinateX #1 \n_rlnImageName #2 \n_rlnClassNumber #3 \n_rlnAnglePsi #4 \n"
)
CLASS_TEXTS = ["{c}", "{c}", "{c}", "  {c}", "00{c}", "{c}.000000", "+{c}", "{c}e0", "\t{c}"]


def reference(text: str, keep: set[int], index: int = 2) -> tuple[list[int], str]:
    """What the original line-by-line implementation gave: class numbers and the filtered text."""
    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.strip() == "data_particles" or line.strip() == "data_")
    while not lines[i].strip() or lines[i].strip().startswith(("#", "_", "data_", "loop_")):
        i += 1
    numbers, out = [], list(lines[:i])
    for line in lines[i:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if not stripped or stripped.startswith(("data_", "loop_", "_")):
            break
        number = int(float(line.split()[index]))
        numbers.append(number)
        if number in keep:
            out.append(line if line.endswith("\n") else line + "\n")
    return numbers, "".join(out) + "\n"


def random_file(rng: np.random.Generator, n: int, newline: str = "\n", comments: bool = False,
                tail: str = "", last_newline: bool = True) -> str:
    rows = []
    for i in range(n):
        c = int(rng.integers(1, 12))
        name = f"{i + 1:06d}@Extract/job005/Movies/{'é' if i % 7 == 0 else ''}mic{i % 13}.mrcs"
        pad = " " * int(rng.integers(1, 4))
        klass = CLASS_TEXTS[int(rng.integers(len(CLASS_TEXTS)))].format(c=c)
        rows.append(f"{pad}{rng.uniform(0, 4000):10.6f}{pad}{name} {klass}{pad}{rng.uniform(-180, 180):.6f} ")
        if comments and rng.random() < 0.1:
            rows.append("# a comment inside the table")
    text = HEADER + "\n".join(rows) + ("\n" if last_newline else "")
    return text.replace("\n", newline) + tail


CASES = {
    "plain": {},
    "crlf": {"newline": "\r\n"},
    "comments": {"comments": True},
    "no final newline": {"last_newline": False},
    "block after": {"tail": "\ndata_other\n\nloop_\n_rlnX #1\n1\n"},
    "label after": {"tail": "_rlnSomething 3\n"},
}


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000, 8 << 20])
@pytest.mark.parametrize("case", sorted(CASES))
def test_chunked_scan_and_filter_match_the_line_reference(tmp_path, monkeypatch, chunk, case):
    monkeypatch.setattr(star_tokenizer, "CHUNK_BYTES", chunk)
    rng = np.random.default_rng(len(case) * 1000 + chunk % 997)
    text = random_file(rng, 300, **CASES[case])
    path = tmp_path / "run_it025_data.star"
    path.write_bytes(text.encode("utf-8"))
    keep = {2, 3, 5, 7, 11}
    numbers, expected = reference(text, keep)

    scan = scan_particles(path)
    assert list(scan.class_numbers) == numbers
    assert scan.rows_only == (case != "comments")
    out = io.StringIO()
    assert filter_particles(scan, keep, out) == sum(n in keep for n in numbers)
    assert out.getvalue() == expected
    with (tmp_path / "out.star").open("w", encoding="utf-8", newline="") as handle:  # the buffer path
        filter_particles(scan, keep, handle)
    assert (tmp_path / "out.star").read_bytes() == expected.encode("utf-8")
    binary = io.BytesIO()
    filter_particles(scan, keep, binary)
    assert binary.getvalue() == expected.encode("utf-8")


def test_scan_without_offsets_still_filters(tmp_path):
    text = random_file(np.random.default_rng(1), 50, comments=True)
    path = tmp_path / "run_it025_data.star"
    path.write_text(text, encoding="utf-8")
    full = scan_particles(path)
    bare = ParticleScan(path, full.class_numbers, full.columns, full.has_optics, full.block)
    a, b = io.StringIO(), io.StringIO()
    filter_particles(full, [1, 2], a)
    filter_particles(bare, [1, 2], b)
    assert a.getvalue() == b.getvalue()


@pytest.mark.parametrize("chunk", [16, 8 << 20])
def test_errors_name_the_line_in_any_chunk(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(star_tokenizer, "CHUNK_BYTES", chunk)
    text = random_file(np.random.default_rng(2), 40)
    lines = text.splitlines(keepends=True)
    short = len(lines) - 5
    path = tmp_path / "run_it025_data.star"
    path.write_text("".join(lines[:short] + [" ".join(lines[short].split()[:3]) + "\n"] + lines[short + 1 :]))
    with pytest.raises(CryoDiscoveryError, match=f"line {short + 1}: 3 values for 4 columns"):
        scan_particles(path)
    bad = lines[short].split()
    bad[2] = "x7"
    path.write_text("".join(lines[:short] + [" ".join(bad) + "\n"] + lines[short + 1 :]))
    with pytest.raises(CryoDiscoveryError, match=f"line {short + 1}: _rlnClassNumber is not a number"):
        scan_particles(path)


def test_undecodable_bytes_in_rows_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(star_tokenizer, "CHUNK_BYTES", 64)
    path = tmp_path / "run_it025_data.star"
    path.write_bytes(random_file(np.random.default_rng(3), 30).encode() + b"1.0 \xff\xfe@x.mrcs 1 2.0\n")
    with pytest.raises(CryoDiscoveryError, match="undecodable"):
        scan_particles(path)


def test_a_file_changed_after_the_scan_is_refused(tmp_path):
    path = tmp_path / "run_it025_data.star"
    path.write_text(random_file(np.random.default_rng(4), 30))
    scan = scan_particles(path)
    with path.open("a") as handle:
        handle.write("1.0 9@x.mrcs 1 2.0\n")
    with pytest.raises(CryoDiscoveryError, match="changed since it was scanned") as error:
        filter_particles(scan, [1], io.StringIO())
    assert str(path) in error.value.one_line()
    os.utime(path, ns=(scan.mtime_ns, scan.mtime_ns))  # same time, other size: still refused
    with pytest.raises(CryoDiscoveryError, match="changed"):
        filter_particles(scan, [1], io.StringIO())


def test_long_class_numbers_take_the_exact_path(tmp_path, monkeypatch):
    monkeypatch.setattr(star_tokenizer, "CHUNK_BYTES", 32)
    path = tmp_path / "run_it025_data.star"
    path.write_text(HEADER + "1.0 1@a.mrcs 0000000000000042 3\n2.0 2@a.mrcs 42 3")
    assert list(scan_particles(path).class_numbers) == [42, 42]


def test_empty_table_after_header(tmp_path):
    path = tmp_path / "run_it025_data.star"
    path.write_text(HEADER + "\n")
    with pytest.raises(CryoDiscoveryError, match="no rows"):
        scan_particles(path)


def test_relion_written_file_round_trips():
    """The bundled example's data.star (written by RELION): the same classes and bytes as the reference."""
    source = Path(__file__).resolve().parents[1] / "examples/class2d_small/Class2D/job001/run_it018_data.star"
    if not source.is_file():
        pytest.skip("the bundled example is not in this checkout")
    scan = scan_particles(source)
    keep = set(range(1, 100, 2))
    numbers, expected = reference(source.read_text(), keep, scan.columns.index("rlnClassNumber"))
    assert list(scan.class_numbers) == numbers
    out = io.StringIO()
    filter_particles(scan, keep, out)
    assert out.getvalue() == expected
