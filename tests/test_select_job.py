"""The select and score jobs end to end on simulated RELION jobs, with a tiny model trained here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import starfile
from PIL import Image

from relion_cryodiscovery.cli.main import main as cli
from relion_cryodiscovery.model.runtime import RUNTIME_ENV
from relion_cryodiscovery.model.worker import WORKER_ENV
from relion_cryodiscovery.pipeline.montage import FRAME, INNER, montage_size, panel_left, tile_origin
from relion_cryodiscovery.relion.sentinels import ABORT_NOW, ABORTED, FAILURE, SUCCESS
from cryodiscovery_dev.simulate.structures import simulate_map

DATA = "Class2D/job001/run_it025_data.star"


def run_select(project: Path, model: Path, *extra: str, out: str = "External/job003/") -> int:
    cwd = os.getcwd()
    os.chdir(project)
    try:
        return cli(["select", "--o", out, "--in_parts", DATA, "--model", str(model), "--j", "1", *extra])
    finally:
        os.chdir(cwd)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_select_writes_relion_outputs(project, session_tiny_model):
    before = snapshot(project / "Class2D")
    assert run_select(project, session_tiny_model, "--min_classes", "2") == 0
    out = project / "External/job003"
    for name in ("particles.star", "class_averages.star", "backup_selection.star", "rank_model.star",
                 "rank_optimiser.star", "rank_data.star", "cryodiscovery_scores.star", "cryodiscovery_scores.csv",
                 "cryodiscovery_scores.json", "cryodiscovery_montage.png", "RELION_OUTPUT_NODES.star", SUCCESS):
        assert (out / name).is_file(), name
    assert not list(out.glob(".cryodiscovery_staging*"))
    assert snapshot(project / "Class2D") == before, "inputs must not change"

    scores = pd.read_csv(out / "cryodiscovery_scores.csv")  # a plain table: no comment lines
    # the first nine columns as before (readers keep working), then the junk kind and grade (#23)
    assert list(scores.columns) == ["class_number", "score", "selected", "p_d1", "p_d2", "p_d3", "d3_used",
                                    "particles", "reason", "junk_kind", "junk_kind_probability", "grade"]
    assert set(scores["grade"]) <= set("ABCDF")
    assert (scores.loc[scores["selected"] == 1, "grade"].isin(["A", "B", "C"])).all()
    assert (scores.loc[scores["selected"] == 0, "grade"].isin(["D", "F"])).all()
    assert (scores["p_d3"].notna() == scores["d3_used"].astype(bool)).all()
    provenance = json.loads((out / "cryodiscovery_scores.json").read_text())["provenance"]
    assert provenance["model_version"] == "tiny-test"
    assert "_cdiModelVersion" in (out / "cryodiscovery_scores.star").read_text()
    data = starfile.read(project / DATA, always_dict=True)["particles"]
    assert (scores["particles"].to_numpy() == np.bincount(data["rlnClassNumber"], minlength=len(scores) + 1)[1:]).all()

    selected = starfile.read(out / "backup_selection.star")["rlnSelected"].to_numpy()
    assert len(selected) == len(scores) and (selected == scores["selected"]).all()
    kept = starfile.read(out / "particles.star", always_dict=True)["particles"]
    expected = data[data["rlnClassNumber"].isin(scores.loc[scores.selected == 1, "class_number"])]
    assert list(kept["rlnImageName"]) == list(expected["rlnImageName"])
    averages = starfile.read(out / "class_averages.star")
    assert list(averages["rlnClassNumber"]) == list(scores.loc[scores.selected == 1, "class_number"])
    assert "rlnPredictedClassScore" in averages.columns
    optimiser = starfile.read(out / "rank_optimiser.star")
    assert optimiser["rlnModelStarFile"] == "External/job003/rank_model.star"
    rank = starfile.read(out / "rank_model.star")
    assert np.allclose(rank["rlnClassScore"], scores["score"], atol=1e-5)


def test_rerun_overwrites_identically(project, session_tiny_model):
    assert run_select(project, session_tiny_model, "--min_classes", "2") == 0
    first = snapshot(project / "External/job003")
    assert run_select(project, session_tiny_model, "--min_classes", "2") == 0
    second = snapshot(project / "External/job003")
    assert first.keys() == second.keys()
    for name in first:
        if name.endswith((".csv", ".star", ".json")) and "scores" in name:
            strip = lambda text: [l for l in text.decode().splitlines() if "date" not in l.lower()]  # noqa: E731
            assert strip(first[name]) == strip(second[name]), name
        elif name != "cryodiscovery_montage.png":
            assert first[name] == second[name], name


def test_no_class_passing_fails_cleanly(project, session_tiny_model, capsys):
    assert run_select(project, session_tiny_model, "--min_score", "1.0", "--min_particles", "100000") == 1
    out = project / "External/job003"
    assert (out / FAILURE).exists() and not (out / SUCCESS).exists()
    assert not (out / "particles.star").exists()
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "min_particles" in error[0]


def test_abort_before_start(project, session_tiny_model):
    out = project / "External/job003"
    out.mkdir(parents=True)
    (out / ABORT_NOW).touch()
    assert run_select(project, session_tiny_model) == 2
    assert (out / ABORTED).exists() and not (out / ABORT_NOW).exists()
    assert not (out / "particles.star").exists()


def _model_worker_of(pid: int) -> int | None:
    """The pid of the model worker process (``-m relion_cryodiscovery.model.worker``) started by ``pid``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != pid:
                continue
            if b"relion_cryodiscovery.model.worker" in (stat.parent / "cmdline").read_bytes():
                return int(stat.parent.name)
        except (OSError, ValueError, IndexError):  # the process ended meanwhile
            continue
    return None


def _running(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_abort_during_model_loading_via_relion_external(project, session_tiny_model):
    """A separate process, as RELION runs it, on the TensorFlow path: ABORT_NOW while the model worker
    process starts TensorFlow -> the job ends ABORTED (exit 2), takes its worker with it and writes nothing.

    The abort is touched as soon as the worker process exists, so it lands while TensorFlow loads (a
    worker still alive when the job has ended, or any output, would fail the test). How quickly the job
    ends is measured by ``benchmarks/abort_latency.py``, not asserted.
    """
    out = project / "External/job004"
    out.mkdir(parents=True)
    exe = Path(__file__).resolve().parents[1] / "relion_external" / "cryodiscovery_select.py"
    env = {k: v for k, v in os.environ.items() if k != WORKER_ENV}
    env[RUNTIME_ENV] = "tensorflow"
    process = subprocess.Popen([sys.executable, str(exe), "--o", "External/job004/", "--in_parts", DATA,
                                "--model", str(session_tiny_model)], cwd=project, env=env)
    worker = None
    try:
        while worker is None and process.poll() is None:
            worker = _model_worker_of(process.pid)
            time.sleep(0.01)
        assert worker is not None, f"the job ended ({process.returncode}) without starting a model worker"
        (out / ABORT_NOW).touch()
        code = process.wait(timeout=300)  # a bound on a hung test, not a speed requirement
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 2 and (out / ABORTED).exists() and not (out / ABORT_NOW).exists()
    assert not (out / SUCCESS).exists() and not (out / FAILURE).exists()
    assert sorted(p.name for p in out.iterdir()) == [ABORTED], "an aborted run leaves no outputs or staging"
    for _ in range(600):  # the kernel ends the worker with its parent (PR_SET_PDEATHSIG)
        if not _running(worker):
            break
        time.sleep(0.1)
    assert not _running(worker), "the model worker outlived the aborted job"


def test_relion_40_nodes_from_job_star(project, session_tiny_model):
    out = project / "External/job003"
    out.mkdir(parents=True)
    (out / "job.star").write_text("\n# version 30001\n\ndata_job\n\n_rlnJobTypeLabel relion.external\n")
    assert run_select(project, session_tiny_model, "--min_classes", "1") == 0
    nodes = starfile.read(out / "RELION_OUTPUT_NODES.star")
    assert list(nodes["rlnPipeLineNodeTypeLabel"]) == [
        "ParticlesData.star.relion", "ImagesData.star.relion.classaverages",
        "ProcessData.star.relion.optimiser.autoselect"]


def test_score_takes_any_prefixed_model_optimiser_or_data_star(project, session_tiny_model, tmp_path, capsys):
    """Not only RELION's run_itNNN_ names: siblings are found by the shared prefix."""
    job = project / "Class2D/job001"
    for kind in ("model", "optimiser", "data"):
        shutil.copyfile(job / f"run_it025_{kind}.star", job / f"best_{kind}.star")
    reference = tmp_path / "reference"
    assert cli(["score", "--i", str(job / "run_it025_model.star"), "--o", str(reference),
                "--model", str(session_tiny_model), "--no_montage"]) == 0
    for name in ("best_model.star", "best_optimiser.star", "best_data.star"):
        out = tmp_path / name
        assert cli(["score", "--i", str(job / name), "--o", str(out), "--model", str(session_tiny_model),
                    "--no_montage"]) == 0
        renamed = pd.read_csv(out / "cryodiscovery_scores.csv")
        assert renamed.equals(pd.read_csv(reference / "cryodiscovery_scores.csv")), name
    capsys.readouterr()
    (job / "orphan_optimiser.star").write_text((job / "run_it025_optimiser.star").read_text())
    assert cli(["score", "--i", str(job / "orphan_optimiser.star"), "--o", str(tmp_path / "orphan")]) == 1
    (job / "notes.star").write_text("data_\n")
    assert cli(["score", "--i", str(job / "notes.star"), "--o", str(tmp_path / "notes")]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2
    assert "orphan_model.star: file not found" in errors[0]
    assert "notes.star" in errors[1] and "*_model.star" in errors[1]


def test_score_bare_stack(project, session_tiny_model, tmp_path):
    stack = project / "Class2D/job001/run_it025_classes.mrcs"
    assert cli(["score", "--i", str(stack), "--o", str(tmp_path / "scored"), "--angpix", "3.0",
                "--model", str(session_tiny_model), "--no_montage"]) == 0
    scores = pd.read_csv(tmp_path / "scored/cryodiscovery_scores.csv")
    with mrcfile.open(stack) as mrc:
        assert len(scores) == mrc.data.shape[0]
    assert (scores["particles"] == -1).all()


def test_score_a_3d_map_as_one_3d_class(session_tiny_model, tmp_path, capsys):
    """A 64^3 map (MRC space group 1) is one 3D class, not 64 z-sections; a map not a cube is refused."""
    volume = simulate_map("globular", 300, 3.0, 64, seed=4)[0]
    with mrcfile.new(tmp_path / "map.mrc") as mrc:
        mrc.set_data(volume.astype(np.float32))
        mrc.voxel_size = 3.0
        assert mrc.header.ispg == 1
    assert cli(["score", "--i", str(tmp_path / "map.mrc"), "--o", str(tmp_path / "scored"),
                "--model", str(session_tiny_model)]) == 0
    scores = pd.read_csv(tmp_path / "scored/cryodiscovery_scores.csv")
    assert list(scores["class_number"]) == [1] and scores["score"].between(0, 1).all()
    assert (tmp_path / "scored/cryodiscovery_montage.png").is_file()
    assert "holds a 3D map (64 x 64 x 64), scored as one 3D class" in capsys.readouterr().out

    with mrcfile.new(tmp_path / "slab.mrc") as mrc:
        mrc.set_data(volume[:40].astype(np.float32))
    assert cli(["score", "--i", str(tmp_path / "slab.mrc"), "--o", str(tmp_path / "refused"),
                "--model", str(session_tiny_model)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "slab.mrc: is a 3D map by its MRC header" in errors[0], errors
    assert sorted(p.name for p in (tmp_path / "refused").iterdir()) == [FAILURE]


def _fake_class3d_job(project: Path) -> str:
    """A Class3D iteration: two real maps, one noise map, one empty map; particles from the 2D job."""
    job = project / "Class3D/job010"
    job.mkdir(parents=True)
    pixel, box = 4.0, 40
    maps = [simulate_map("globular", 300, pixel, box, seed=1)[0], simulate_map("elongated", 250, pixel, box, seed=2)[0],
            np.random.default_rng(3).normal(size=(box,) * 3).astype(np.float32), np.zeros((box,) * 3, np.float32)]
    for k, volume in enumerate(maps, start=1):
        with mrcfile.new(job / f"run_it025_class{k:03d}.mrc") as mrc:
            mrc.set_data(volume.astype(np.float32))
            mrc.voxel_size = pixel
    data = starfile.read(project / DATA, always_dict=True)
    data["particles"]["rlnClassNumber"] = (np.arange(len(data["particles"])) % 3) + 1
    starfile.write(data, job / "run_it025_data.star")
    classes = pd.DataFrame({"rlnReferenceImage": [f"Class3D/job010/run_it025_class{k:03d}.mrc" for k in range(1, 5)],
                            "rlnClassDistribution": [0.4, 0.3, 0.3, 0.0],
                            "rlnAccuracyRotations": [3.0, 4.0, 20.0, 999.0],
                            "rlnAccuracyTranslationsAngst": [1.0, 1.2, 5.0, 999.0],
                            "rlnEstimatedResolution": [9.0, 10.0, 30.0, 40.0],
                            "rlnOverallFourierCompleteness": [1.0, 1.0, 0.8, 0.5]})
    general = {"rlnReferenceDimensionality": 3, "rlnPixelSize": pixel, "rlnNrClasses": 4}
    starfile.write({"model_general": general, "model_classes": classes}, job / "run_it025_model.star")
    return "Class3D/job010/run_it025_data.star"


def test_select_3d_job_copies_selected_maps(project, session_tiny_model):
    data = _fake_class3d_job(project)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        code = cli(["select", "--o", "External/job005/", "--in_parts", data, "--model", str(session_tiny_model),
                    "--min_classes", "1", "--relion_version", "3.1", "--groups", "2"])  # (groups: 2D only)
    finally:
        os.chdir(cwd)
    assert code == 0
    out = project / "External/job005"
    scores = pd.read_csv(out / "cryodiscovery_scores.csv")
    assert scores.loc[3, "reason"].startswith("empty image") and scores.loc[3, "selected"] == 0
    maps = sorted(p.name for p in out.glob("class_*.mrc"))
    assert maps == [f"class_{n:03d}.mrc" for n in scores.loc[scores.selected == 1, "class_number"]]
    nodes = starfile.read(out / "RELION_OUTPUT_NODES.star")
    assert set(nodes.loc[nodes.rlnPipeLineNodeName.str.endswith(".mrc"), "rlnPipeLineNodeType"]) == {6}
    assert not (out / "class_averages.star").exists()
    assert not list(out.glob("particles_group_*")) and "group" not in scores.columns
    # the montage: each class its projections along z, y and x side by side; class 2 (elongated along z)
    # is end-on in its z view and side-on in the others
    png = np.asarray(Image.open(out / "cryodiscovery_montage.png").convert("L")).astype(float)
    assert png.shape[::-1] == montage_size(4, panels=3)
    x0, y0 = tile_origin(1, 3, panels=3)
    z, y, x = (png[y0 + FRAME + 12:y0 + FRAME + INNER, x0 + panel_left(p):x0 + panel_left(p) + INNER] for p in range(3))
    assert np.abs(z - y).mean() > 10 and np.abs(z - x).mean() > 10 and np.abs(y - x).mean() > 0


def _model_with_domain_threshold(model: Path, target: Path, threshold: float) -> Path:
    """A copy of ``model`` whose card carries a domain reference flagging above ``threshold``."""
    import json
    import shutil

    from relion_cryodiscovery.model.domain import domain_columns

    shutil.copytree(model, target)
    card = json.loads((target / "model_card.json").read_text())
    columns = domain_columns()
    card["extra"]["domain"] = {"columns": columns.tolist(), "median": [0.0] * len(columns),
                               "scale": [1.0] * len(columns), "distance_threshold": threshold}
    (target / "model_card.json").write_text(json.dumps(card))
    return target


def test_out_of_domain_job_says_so(project, session_tiny_model, tmp_path, capsys):
    stack = project / "Class2D/job001/run_it025_classes.mrcs"
    far = _model_with_domain_threshold(session_tiny_model, tmp_path / "far_model", 0.0)
    assert cli(["score", "--i", str(stack), "--o", str(tmp_path / "far"), "--model", str(far)]) == 0
    out = capsys.readouterr().out
    assert "domain_check: OUT OF DOMAIN" in out
    assert "WARNING: this job looks unlike the classes the model was trained on" in out
    star = (tmp_path / "far/cryodiscovery_scores.star").read_text()
    assert "_cdiDomainCheck" in star and "OUT OF DOMAIN" in star
    assert "OUT OF DOMAIN" in (tmp_path / "far/cryodiscovery_scores.json").read_text()
    near = _model_with_domain_threshold(session_tiny_model, tmp_path / "near_model", 1e9)
    assert cli(["score", "--i", str(stack), "--o", str(tmp_path / "near"), "--model", str(near), "--no_montage"]) == 0
    out = capsys.readouterr().out
    assert "domain_check: in domain" in out and "WARNING: this job looks unlike" not in out
