"""RELION 3.0-format jobs (no data_optics, particles in ``data_`` or ``data_images``, pixel size per
particle), read as RELION 3.1 converts them: the bundled Class2D example converted to 3.0 scores and
selects as the original."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import starfile

from conftest import EXAMPLE, requires_relion
from relion_cryodiscovery.cli.main import main as cli
from relion_cryodiscovery.relion.job import locate_job, read_job
from relion_cryodiscovery.relion.sentinels import SUCCESS
from relion_cryodiscovery.relion.star import pixel_size_of, write_pairs, write_table

SOURCE = "Class2D/job001"
#: Block name of the particle table -> the job holding that conversion.
JOBS = {"": "Class2D/job002", "images": "Class2D/job003"}
#: A 15 um detector pixel: rlnMagnification = 15e4 / angpix.
DETECTOR_UM = 15.0


def to_relion30(project: Path, source: str, target: str, block: str, pixel_size_in_model: bool = True) -> str:
    """Write ``source``'s last iteration as RELION 3.0 writes a job into ``target``: the particle table in
    ``data_<block>`` without data_optics or a ``# version`` line, CTF and detector values per particle,
    origins in pixels; model.star with 3.0's labels (rlnAccuracyTranslations in pixels, rlnSigmaOffsets).
    Returns the project-relative data.star."""
    src, dst = project / source, project / target
    dst.mkdir(parents=True)
    root = sorted(src.glob("run_it*_data.star"))[-1].name[: -len("_data.star")]
    data = starfile.read(src / f"{root}_data.star", always_dict=True)
    optics, particles = data["optics"], data["particles"].drop(columns=["rlnOpticsGroup"])
    angpix = float(optics["rlnImagePixelSize"].iloc[0])
    for axis in "XY":
        particles[f"rlnOrigin{axis}"] = particles.pop(f"rlnOrigin{axis}Angst") / angpix
    for label in ("rlnVoltage", "rlnSphericalAberration", "rlnAmplitudeContrast"):
        particles[label] = float(optics[label].iloc[0])
    particles["rlnDetectorPixelSize"] = DETECTOR_UM
    particles["rlnMagnification"] = DETECTOR_UM * 1e4 / angpix
    with (dst / f"{root}_data.star").open("w") as out:
        out.write("# RELION; version 3.0.8\n")
        write_table(out, block, particles, version=None)

    model = starfile.read(src / f"{root}_model.star", always_dict=True)
    general = dict(model.pop("model_general"))
    general["rlnSigmaOffsets"] = general.pop("rlnSigmaOffsetsAngst")
    if not pixel_size_in_model:
        del general["rlnPixelSize"]
    classes = model.pop("model_classes")
    classes["rlnReferenceImage"] = classes["rlnReferenceImage"].str.replace(source, target)
    classes.insert(3, "rlnAccuracyTranslations", classes.pop("rlnAccuracyTranslationsAngst") / angpix)
    with (dst / f"{root}_model.star").open("w") as out:
        write_pairs(out, "model_general", general, version=None)
        write_table(out, "model_classes", classes, version=None)
        for name, table in model.items():
            write_table(out, name, table, version=None)
    optimiser = (src / f"{root}_optimiser.star").read_text().replace("# version 30001\n", "")
    (dst / f"{root}_optimiser.star").write_text(optimiser.replace(source, target))
    shutil.copyfile(src / f"{root}_classes.mrcs", dst / f"{root}_classes.mrcs")
    return f"{target}/{root}_data.star"


@pytest.fixture(scope="module")
def project30(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example plus its last iteration in RELION 3.0 format, as ``data_`` and ``data_images``."""
    if not EXAMPLE.is_dir():
        pytest.skip("bundled example not generated")
    project = tmp_path_factory.mktemp("relion30") / "project"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    for block, job in JOBS.items():
        to_relion30(project, SOURCE, job, block)
    return project


def _data_star(project: Path, job: str) -> str:
    return str(sorted((project / job).glob("run_it*_data.star"))[-1].relative_to(project))


def _run(project: Path, *args: str) -> int:
    cwd = os.getcwd()
    os.chdir(project)
    try:
        return cli([*args, "--j", "1"])
    finally:
        os.chdir(cwd)


def _scores(directory: Path) -> pd.DataFrame:
    return pd.read_csv(directory / "cryodiscovery_scores.csv")


def test_converted_files_look_like_relion_30(project30: Path) -> None:
    text = (project30 / _data_star(project30, JOBS["images"])).read_text()
    assert "data_optics" not in text and "# version" not in text and "\ndata_images\n" in text
    assert "_rlnMagnification" in text and "_rlnOpticsGroup" not in text and "_rlnOriginXAngst" not in text
    assert "\ndata_\n" in (project30 / _data_star(project30, JOBS[""])).read_text()


@pytest.mark.parametrize("block", sorted(JOBS))
def test_score_reads_a_relion_30_job_as_the_31_original(project30: Path, tmp_path: Path, block: str) -> None:
    assert _run(project30, "score", "--i", _data_star(project30, SOURCE), "--o", str(tmp_path / "31"),
                "--no_montage") == 0
    assert _run(project30, "score", "--i", _data_star(project30, JOBS[block]), "--o", str(tmp_path / "30"),
                "--no_montage") == 0
    original, old = _scores(tmp_path / "31"), _scores(tmp_path / "30")
    pd.testing.assert_frame_equal(old, original, check_exact=False, atol=1e-5)
    assert (old["particles"] > 0).all() and old["selected"].any()


def test_pixel_size_comes_from_the_particles_when_the_model_lacks_it(project30: Path, tmp_path: Path) -> None:
    """RELION 3.0 keeps the pixel size per particle: rlnDetectorPixelSize * 1e4 / rlnMagnification."""
    project = tmp_path / "project"
    shutil.copytree(project30, project, symlinks=True)
    data = to_relion30(project, SOURCE, "Class2D/job004", "images", pixel_size_in_model=False)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        contents = read_job(locate_job(data))
    finally:
        os.chdir(cwd)
    assert contents.scan is not None and not contents.scan.has_optics and contents.scan.block == "images"
    assert contents.scan.pixel_size == pytest.approx(3.0)
    assert contents.classes.pixel_size == pytest.approx(3.0)
    assert pixel_size_of({"rlnImagePixelSize": "1.06"}) == pytest.approx(1.06)
    both = {"rlnDetectorPixelSize": "5", "rlnMagnification": "50000", "rlnImagePixelSize": "9"}
    assert pixel_size_of(both) == 1.0  # what RELION 3.1's conversion takes
    assert pixel_size_of({"rlnMagnification": "50000"}) is None
    assert pixel_size_of({"rlnImagePixelSize": "0"}) is None


def _rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if "@Simulated/" in line]


@pytest.mark.parametrize("block", sorted(JOBS))
def test_select_keeps_the_30_format_and_exactly_the_selected_rows(project30: Path, block: str) -> None:
    out31, out30 = f"External/job1{len(block)}1/", f"External/job1{len(block)}2/"
    assert _run(project30, "select", "--o", out31, "--in_parts", _data_star(project30, SOURCE)) == 0
    data = _data_star(project30, JOBS[block])
    assert _run(project30, "select", "--o", out30, "--in_parts", data) == 0
    assert (project30 / out30 / SUCCESS).is_file()
    scores = _scores(project30 / out30)
    pd.testing.assert_frame_equal(scores, _scores(project30 / out31), check_exact=False, atol=1e-5)

    source = (project30 / data).read_text()
    written = (project30 / out30 / "particles.star").read_text()
    assert written.startswith(source[: source.index("_rlnImageName")]), "the 3.0 header is copied as it was"
    assert "data_optics" not in written and "# version" not in written
    kept = set(scores.loc[scores.selected == 1, "class_number"])
    table = starfile.read(project30 / data, always_dict=True)[block]
    expected = [line for line, number in zip(_rows(source), table["rlnClassNumber"]) if number in kept]
    assert _rows(written) == expected and 0 < len(expected) < len(table)
    assert (project30 / out30 / "rank_data.star").read_bytes() == (project30 / data).read_bytes()


def test_group_files_keep_the_30_format(project30: Path) -> None:
    out, data = "External/job130/", _data_star(project30, JOBS["images"])
    assert _run(project30, "select", "--o", out, "--in_parts", data, "--groups", "2", "--min_classes", "4") == 0
    source = (project30 / data).read_text()
    scores = _scores(project30 / out)
    table = starfile.read(project30 / data, always_dict=True)["images"]
    for group in (1, 2):
        written = (project30 / out / f"particles_group_{group}.star").read_text()
        assert written.startswith(source[: source.index("_rlnImageName")]) and "data_optics" not in written
        members = set(scores.loc[scores.group == group, "class_number"])
        expected = [line for line, number in zip(_rows(source), table["rlnClassNumber"]) if number in members]
        assert _rows(written) == expected and expected


@requires_relion
@pytest.mark.parametrize("block", sorted(JOBS))
def test_relion_31_reads_the_30_particles_star(project30: Path, tmp_path: Path, block: str) -> None:
    """Debian's RELION 3.1.3 converts the written particles.star (star_handler) and refines from it."""
    out = f"External/job2{len(block)}0/"
    assert _run(project30, "select", "--o", out, "--in_parts", _data_star(project30, JOBS[block])) == 0
    particles = f"{out}particles.star"
    n_kept = len(_rows((project30 / particles).read_text()))
    converted = tmp_path / "converted.star"
    run = subprocess.run(["relion_star_handler", "--i", particles, "--o", str(converted)], cwd=project30,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "previous version of Relion" in run.stderr, run.stderr
    blocks = starfile.read(converted, always_dict=True)
    assert float(blocks["optics"]["rlnImagePixelSize"].iloc[0]) == pytest.approx(3.0)
    assert len(blocks["particles"]) == n_kept
    assert blocks["particles"]["rlnOriginXAngst"].abs().max() > 0

    refine = tmp_path / "Class2D"
    refine.mkdir()
    run = subprocess.run(["relion_refine", "--o", str(refine / "run"), "--i", particles, "--iter", "1",
                          "--K", "2", "--tau2_fudge", "2", "--particle_diameter", "130", "--ctf",
                          "--flatten_solvent", "--zero_mask", "--oversampling", "1", "--psi_step", "30",
                          "--offset_range", "2", "--offset_step", "2", "--norm", "--scale", "--j", "1",
                          "--random_seed", "1"],
                         cwd=project30, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    refined = starfile.read(refine / "run_it001_data.star", always_dict=True)
    assert len(refined["particles"]) == n_kept
    assert float(refined["optics"]["rlnImagePixelSize"].iloc[0]) == pytest.approx(3.0)
