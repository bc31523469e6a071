"""Fuzzing the input layer (issue 6.5): generated STAR and MRC inputs either read correctly or
fail with a :class:`CryoDiscoveryError` (the one-line clean failure); nothing else may escape.

Targets, in-process: ``relion.star.scan_particles``, ``relion.job.locate_job`` + ``read_job``,
``relion.mrc.read_mrc`` and ``data.labels.labels_from_selection``. Inputs are a small valid
Class2D job mutated byte- and line-wise (truncation, bit flips, deleted/duplicated/swapped
lines, fields replaced by hostile tokens), plus raw random bytes and generated MRC headers.

Example counts come from the Hypothesis profile (``HYPOTHESIS_PROFILE``): ``ci`` (default,
125 per target = 500) or ``fuzz10k`` (2,500 per target = 10,000), e.g.
``HYPOTHESIS_PROFILE=fuzz10k python -m pytest -q tests/test_fuzz_inputs.py``.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import mrcfile
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mrcfile.dtypes import HEADER_DTYPE

from relion_cryodiscovery.data.labels import labels_from_selection
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.relion.job import locate_job, read_job
from relion_cryodiscovery.relion.mrc import read_mrc
from relion_cryodiscovery.relion.star import scan_particles

_COMMON = dict(deadline=None, database=None, derandomize=True, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                      HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=125, **_COMMON)
settings.register_profile("fuzz10k", max_examples=2500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci") if os.environ.get("HYPOTHESIS_PROFILE")
                      in ("ci", "fuzz10k") else "ci")

K = 4  # classes in the template job
BOX = 16
N_PARTICLES = 24
JOB = "Class2D/job001"


# --------------------------------------------------------------------------- a small valid job


def _data_star() -> str:
    rows = "".join(
        f"{i + 1:06d}@Extract/job003/particles.mrcs mic{i % 3}.mrc {10000 + i}.5 {9900 + i}.25 1 "
        f"{(i % K) + 1} 0.8{i % 10} \n"
        for i in range(N_PARTICLES)
    )
    return (
        "\n# version 30001\n\ndata_optics\n\nloop_ \n_rlnOpticsGroup #1 \n_rlnOpticsGroupName #2 \n"
        "_rlnImagePixelSize #3 \n_rlnImageSize #4 \n1 opticsGroup1 3.000000 16 \n \n\n"
        "# version 30001\n\ndata_particles\n\nloop_ \n_rlnImageName #1 \n_rlnMicrographName #2 \n"
        "_rlnDefocusU #3 \n_rlnDefocusV #4 \n_rlnOpticsGroup #5 \n_rlnClassNumber #6 \n"
        "_rlnMaxValueProbDistribution #7 \n" + rows + "\n"
    )


def _model_star() -> str:
    rows = "".join(
        f"{k:06d}@{JOB}/run_it010_classes.mrcs 0.25 {3 + k}.5 1.2 {12 + k}.0 0.95 \n" for k in range(1, K + 1)
    )
    return (
        "\n# version 30001\n\ndata_model_general\n\n_rlnReferenceDimensionality 2\n_rlnPixelSize 3.000000\n"
        f"_rlnNrClasses {K}\n_rlnCurrentResolution 9.5\n_rlnAveragePmax 0.4\n\n"
        "# version 30001\n\ndata_model_classes\n\nloop_ \n_rlnReferenceImage #1 \n_rlnClassDistribution #2 \n"
        "_rlnAccuracyRotations #3 \n_rlnAccuracyTranslationsAngst #4 \n_rlnEstimatedResolution #5 \n"
        "_rlnOverallFourierCompleteness #6 \n" + rows + "\n"
    )


OPTIMISER = "\n# version 30001\n\ndata_optimiser_general\n\n_rlnParticleDiameter 40.0\n_rlnModelStarFile x\n\n"


def _stack_bytes(directory: Path) -> bytes:
    path = directory / "template.mrcs"
    images = np.random.default_rng(0).normal(size=(K, BOX, BOX)).astype(np.float32)
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(images)
        mrc.voxel_size = 3.0
    data = path.read_bytes()
    path.unlink()
    return data


BACKUP = "\n# version 30001\n\ndata_\n\nloop_ \n_rlnSelected #1 \n" + "".join(f"{k % 2}\n" for k in range(K)) + "\n"
AVERAGES = ("\n# version 30001\n\ndata_\n\nloop_ \n_rlnReferenceImage #1 \n_rlnClassNumber #2 \n"
            + "".join(f"{k:06d}@{JOB}/run_it010_classes.mrcs {k}\n" for k in (1, 3)) + "\n")


# --------------------------------------------------------------------------- mutations

TOKENS = st.sampled_from([
    "1", "2", str(K), str(K + 1), "0", "-1", "3.0", "2.5", "1e3", "1e400", "-1e400", "nan", "inf", "-inf",
    "abc", "", "@", "0@x.mrcs", f"000009@{JOB}/run_it010_classes.mrcs", '"', "#", "_rlnClassNumber",
    "_rlnReferenceImage", "data_", "data_particles", "data_optics", "loop_", "\x00", "\u00e9\u00e8", "\t",
    "999999999999999999999", "0x10", "1_000", " ", "\r", "\ufeff",
])

#: (kind, position, token, byte): kinds 0 truncate, 1 flip a byte, 2 delete a line, 3 duplicate a
#: line, 4 replace a field, 5 insert a token line, 6 swap two lines, 7 append a token to a line.
MUTATION = st.tuples(st.integers(0, 7), st.integers(0, 10**6), TOKENS, st.integers(0, 255))


def mutate(data: bytes, mutations: list[tuple[int, int, str, int]]) -> bytes:
    """Apply line- and byte-level mutations to a file's bytes."""
    for kind, position, token, byte in mutations:
        if not data:
            data = token.encode("utf-8", "surrogatepass")
            continue
        if kind == 0:
            data = data[: position % (len(data) + 1)]
        elif kind == 1:
            i = position % len(data)
            data = data[:i] + bytes([byte]) + data[i + 1:]
        else:
            lines = data.split(b"\n")
            i = position % len(lines)
            encoded = token.encode("utf-8")
            if kind == 2:
                del lines[i]
            elif kind == 3:
                lines.insert(i, lines[i])
            elif kind == 4:
                fields = lines[i].split(b" ")
                fields[(position // 7) % len(fields)] = encoded
                lines[i] = b" ".join(fields)
            elif kind == 5:
                lines.insert(i, encoded)
            elif kind == 6:
                j = (position // 13) % len(lines)
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = lines[i] + b" " + encoded
            data = b"\n".join(lines)
    return data


def file_contents(template: bytes) -> st.SearchStrategy[bytes]:
    """Mostly mutated templates; sometimes raw bytes or arbitrary text."""
    return st.one_of(
        st.lists(MUTATION, min_size=1, max_size=4).map(lambda m: mutate(template, m)),
        st.lists(MUTATION, min_size=1, max_size=4).map(lambda m: mutate(template, m)),
        st.lists(MUTATION, min_size=1, max_size=4).map(lambda m: mutate(template, m)),
        st.binary(max_size=600),
        st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )


def clean_outcome(call) -> object | None:
    """Run ``call``: its value, or None for a CryoDiscoveryError; any other exception fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = call()
        except CryoDiscoveryError as error:
            assert error.one_line() and "\n" not in error.one_line()
            event("outcome: clean failure")
            return None
    event("outcome: read")
    return value


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory whose job files each example overwrites."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / JOB).mkdir(parents=True)
    return root


@pytest.fixture(scope="module")
def templates(workdir: Path) -> dict[str, bytes]:
    return {
        "data": _data_star().encode(),
        "model": _model_star().encode(),
        "optimiser": OPTIMISER.encode(),
        "stack": _stack_bytes(workdir),
    }


def write_job(root: Path, files: dict[str, bytes]) -> Path:
    job = root / JOB
    names = {"data": "run_it010_data.star", "model": "run_it010_model.star",
             "optimiser": "run_it010_optimiser.star", "stack": "run_it010_classes.mrcs"}
    for key, name in names.items():
        (job / name).write_bytes(files[key])
    return job / names["data"]


def test_template_job_reads(workdir: Path, templates: dict[str, bytes]) -> None:
    """The unmutated template is a valid job (so the fuzz really starts from good input)."""
    data = write_job(workdir, templates)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        contents = read_job(locate_job(data.relative_to(workdir)))
    finally:
        os.chdir(cwd)
    assert contents.classes.n_classes == K and contents.classes.particle_counts.sum() == N_PARTICLES
    assert contents.classes.images.shape == (K, BOX, BOX) and contents.optimiser["rlnParticleDiameter"] == 40.0


# --------------------------------------------------------------------------- the fuzz targets


@given(data=st.data())
def test_fuzz_scan_particles(workdir: Path, templates: dict[str, bytes], data: st.DataObject) -> None:
    content = data.draw(file_contents(templates["data"]))
    path = workdir / "scan_data.star"
    path.write_bytes(content)
    scan = clean_outcome(lambda: scan_particles(path))
    if scan is not None:
        assert scan.class_numbers.dtype == np.int64 and len(scan.class_numbers) >= 1
        assert "rlnClassNumber" in scan.columns
        assert len(scan.class_numbers) <= content.count(b"\n") + 1


@given(data=st.data())
def test_fuzz_read_job(workdir: Path, templates: dict[str, bytes], data: st.DataObject) -> None:
    files = dict(templates)
    for key in data.draw(st.lists(st.sampled_from(sorted(files)), min_size=1, max_size=2, unique=True)):
        files[key] = data.draw(file_contents(templates[key]))
    path = write_job(workdir, files).relative_to(workdir)
    if data.draw(st.booleans()):
        path = path.parent / path.name.replace("_data.star", data.draw(st.sampled_from(
            ["_model.star", "_optimiser.star", "_data.star", ".star", "_data.star.bak"])))
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        contents = clean_outcome(lambda: read_job(locate_job(path)))
    finally:
        os.chdir(cwd)
    if contents is not None:
        k = contents.classes.n_classes
        assert k >= 1 and len(contents.classes.images) == k
        assert contents.classes.particle_counts.sum() == len(contents.scan.class_numbers)
        assert contents.scan.class_numbers.min() >= 1 and contents.scan.class_numbers.max() <= k


def _mrc_header(nx: int, ny: int, nz: int, mode: int, nsymbt: int, machst: bytes) -> bytes:
    header = np.zeros(1, dtype=HEADER_DTYPE)
    header["nx"], header["ny"], header["nz"], header["mode"], header["nsymbt"] = nx, ny, nz, mode, nsymbt
    header["map"] = b"MAP "
    header["machst"] = np.frombuffer(machst, dtype=np.uint8)
    return header.tobytes()


DIMENSION = st.sampled_from([-5, 0, 1, 2, 3, 16, 17, 2**31 - 1, -2**31])
MRC_HEADERS = st.builds(
    _mrc_header, DIMENSION, DIMENSION, DIMENSION, st.sampled_from([0, 1, 2, 3, 4, 6, 12, 101, -1, 99]),
    st.sampled_from([0, 0, 0, 8, 1024, -4, 2**31 - 1]),
    st.sampled_from([b"\x44\x44\x00\x00", b"\x44\x41\x00\x00", b"\x11\x11\x00\x00", b"\x00\x00\x00\x00",
                     b"\xff\xff\xff\xff"]),
)


@given(data=st.data())
def test_fuzz_read_mrc(workdir: Path, templates: dict[str, bytes], data: st.DataObject) -> None:
    content = data.draw(st.one_of(
        file_contents(templates["stack"]),
        st.tuples(MRC_HEADERS, st.integers(0, 5000)).map(lambda h: h[0] + bytes(h[1])),
    ))
    path = workdir / "fuzz.mrcs"
    path.write_bytes(content)
    result = clean_outcome(lambda: read_mrc(path))
    if result is not None:
        array, voxel = result
        assert array.dtype == np.float32 and array.ndim in (2, 3) and array.size >= 1
        assert voxel is None or (np.isfinite(voxel) and voxel > 0)


@given(data=st.data())
def test_fuzz_labels(workdir: Path, data: st.DataObject) -> None:
    name, template = data.draw(st.sampled_from([
        ("backup_selection.star", BACKUP.encode()), ("class_averages.star", AVERAGES.encode()),
        ("particles.star", _data_star().encode()),
    ]))
    selection = workdir / "Select"
    shutil.rmtree(selection, ignore_errors=True)
    selection.mkdir()
    (selection / name).write_bytes(data.draw(file_contents(template)))
    target = data.draw(st.sampled_from([selection, selection / name]))
    labels = clean_outcome(lambda: labels_from_selection(target, K))
    if labels is not None:
        assert labels.shape == (K,) and set(np.unique(labels)) <= {0, 1}
