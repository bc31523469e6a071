"""End-to-end ``evaluate`` on a small synthetic RELION project, and one-line input errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from relion_cryodiscovery.cli.main import run_command
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.evaluation.labels import read_predictions, read_truth
from relion_cryodiscovery.evaluation.report import CLASSIFICATION_KEYS, EvaluationOptions, evaluate
from test_evaluation_helpers import optics_table, random_poses, relion_project, two_blob_volume, write_map

K, PER_CLASS, BOX, ANGPIX = 6, 4, 32, 2.0
TRUTH = np.array([1, 1, 1, 0, 0, 0])
PRED = np.array([1, 1, 0, 1, 0, 0])
SCORES = np.array([0.9, 0.8, 0.45, 0.6, 0.2, 0.1])


def _class_images() -> np.ndarray:
    y, x = np.indices((BOX, BOX)) - BOX // 2
    out = []
    for k in range(K):
        angle = np.radians(60 * k)
        cx, cy = 6 * np.cos(angle), 6 * np.sin(angle)
        out.append(np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 6.0) + np.exp(-(x ** 2 + y ** 2) / 20.0))
    return np.asarray(out, dtype=np.float32)


def _write_selection(directory: Path, selected: np.ndarray, particles: pd.DataFrame, optics: pd.DataFrame,
                     references: list[str]) -> None:
    """backup_selection.star, class_averages.star and particles.star as a RELION Select job writes them."""
    directory.mkdir(parents=True, exist_ok=True)
    starfile.write({"": pd.DataFrame({"rlnSelected": selected})}, directory / "backup_selection.star")
    kept = np.nonzero(selected)[0] + 1
    refs = [references[k - 1] for k in kept]
    starfile.write({"": pd.DataFrame({"rlnReferenceImage": refs, "rlnClassNumber": kept})},
                   directory / "class_averages.star")
    starfile.write({"optics": optics, "particles": particles[particles.rlnClassNumber.isin(kept)]},
                   directory / "particles.star")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """Class2D job, particle stack, a CryoDiscovery External job and a truth Select job."""
    rng = np.random.default_rng(0)
    classes = _class_images()
    (tmp_path / "Class2D/job001").mkdir(parents=True)
    with mrcfile.new(tmp_path / "Class2D/job001/run_it025_classes.mrcs") as m:
        m.set_data(classes)
    (tmp_path / "Extract/job000").mkdir(parents=True)
    images, rows = [], []
    for k in range(K):
        for _ in range(PER_CLASS):
            ox, oy = rng.integers(-3, 4, 2)
            images.append(np.roll(classes[k], (-oy, -ox), axis=(0, 1)) + rng.normal(0, 0.05, (BOX, BOX)))
            rows.append({"rlnImageName": f"{len(images):06d}@Extract/job000/particles.mrcs",
                         "rlnAnglePsi": 0.0, "rlnOriginXAngst": ox * ANGPIX, "rlnOriginYAngst": oy * ANGPIX,
                         "rlnClassNumber": k + 1, "rlnOpticsGroup": 1})
    with mrcfile.new(tmp_path / "Extract/job000/particles.mrcs") as m:
        m.set_data(np.asarray(images, dtype=np.float32))
    particles = pd.DataFrame(rows)
    optics = optics_table(ANGPIX, BOX)
    refs = [f"{k:06d}@Class2D/job001/run_it025_classes.mrcs" for k in range(1, K + 1)]
    pred_dir, truth_dir = tmp_path / "External/job002", tmp_path / "Select/job003"
    _write_selection(pred_dir, PRED, particles, optics, refs)
    _write_selection(truth_dir, TRUTH, particles, optics, refs)
    table = pd.DataFrame({"class_number": np.arange(1, K + 1), "score": SCORES, "selected": PRED,
                          "p_d1": SCORES, "p_d2": SCORES, "p_d3": "", "d3_used": 0,
                          "particles": PER_CLASS, "reason": ["selected"] * K})
    with (pred_dir / "cryodiscovery_scores.csv").open("w") as handle:
        handle.write("# model_version: test-1\n")
        table.to_csv(handle, index=False)
    truth = pd.DataFrame({"class_number": np.arange(1, K + 1), "label": TRUTH})
    truth.to_csv(tmp_path / "truth.csv", index=False)
    pd.DataFrame({"image_name": particles.rlnImageName, "label": TRUTH[particles.rlnClassNumber - 1]}).to_csv(
        tmp_path / "particle_truth.csv", index=False)
    return tmp_path


def test_evaluate_with_truth_csv_writes_all_keys(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "eval"
    rc = run_command("evaluate", ["--pred", str(project / "External/job002"), "--truth", str(project / "truth.csv"),
                        "--o", str(out)])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(CLASSIFICATION_KEYS) <= set(metrics["classification"])
    c = metrics["classification"]
    assert c["accuracy"] == pytest.approx(4 / 6)
    assert c["false_negative_rate"] == pytest.approx(1 / 3)
    assert c["roc_auc"] == pytest.approx(8 / 9)
    assert c["good_particles_kept"] == pytest.approx(2 / 3)
    assert metrics["inputs"]["provenance"]["model_version"] == "test-1"
    for name in ("metrics.txt", "roc.png", "score_histogram.png", "calibration.png", "report.html"):
        assert (out / name).is_file(), name
    assert "false-negative rate" in capsys.readouterr().out


def test_evaluate_against_select_job_compares_images(project: Path) -> None:
    opts = EvaluationOptions(particles_truth=project / "particle_truth.csv", project_dir=project)
    result = evaluate(project / "External/job002", project / "Select/job003", project / "eval", opts)
    assert result["inputs"]["truth_complete"] is True
    assert result["class_images"]["per_class_mean"]["ssim"] == pytest.approx(1.0)
    assert 0 < result["class_images"]["mean_of_kept"]["mse"]
    pa = result["particle_averages"]
    assert pa["n_prediction"] == 3 * PER_CLASS and -1 <= pa["ssim"] <= 1
    assert "2D classification" in result["fsc"]["skipped"]
    assert result["particles_truth"]["good_particles_kept"] == pytest.approx(2 / 3)
    assert (project / "eval/outcome_montage.png").is_file()
    assert (project / "eval/particle_averages.png").is_file()


def test_truth_from_class_averages_only_labels_the_rest_bad(project: Path) -> None:
    (project / "Select/job003/backup_selection.star").unlink()
    truth = read_truth(project / "Select/job003")
    assert not truth.complete and truth.class_numbers.tolist() == [1, 2, 3]
    result = evaluate(project / "External/job002", project / "Select/job003", project / "eval",
                      EvaluationOptions(html=False))
    assert result["classification"]["accuracy"] == pytest.approx(4 / 6)
    assert any("counted as bad" in n for n in result["notes"])


def test_predictions_from_backup_selection_only(project: Path) -> None:
    (project / "External/job002/cryodiscovery_scores.csv").unlink()
    pred = read_predictions(project / "External/job002")
    assert pred.selected.tolist() == PRED.tolist() and not pred.has_scores
    result = evaluate(project / "External/job002", project / "truth.csv", project / "eval")
    assert result["classification"]["roc_auc"] is None
    assert any("no scores" in n for n in result["classification"]["notes"])


@pytest.mark.parametrize(
    "content, problem",
    [("class_number,lbl\n1,1\n", "missing column 'label'"),
     ("class_number,label\n1,yes\n", "whole numbers"),
     ("class_number,label\n1,2\n", "1 (good) or 0 (bad)")],
)
def test_bad_truth_csv_gives_one_line_error(project: Path, capsys: pytest.CaptureFixture[str],
                                            content: str, problem: str) -> None:
    bad = project / "bad_truth.csv"
    bad.write_text(content)
    rc = run_command("evaluate", ["--pred", str(project / "External/job002"), "--truth", str(bad),
                        "--o", str(project / "e")])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1 and str(bad) in err and problem in err


def test_bad_truth_star_and_missing_files(project: Path) -> None:
    garbage = project / "garbage.star"
    garbage.write_text("this is not a star file\n")
    with pytest.raises(CryoDiscoveryError, match="garbage.star"):
        read_truth(garbage)
    with pytest.raises(CryoDiscoveryError, match="file not found"):
        read_truth(project / "nothing.csv")
    with pytest.raises(CryoDiscoveryError, match="no backup_selection.star"):
        read_truth(project / "Extract")
    short = project / "short.csv"
    short.write_text("class_number,label\n1,1\n2,0\n")
    with pytest.raises(CryoDiscoveryError, match="no label for predicted classes"):
        evaluate(project / "External/job002", short, project / "eval")


@pytest.mark.relion
@pytest.mark.skipif(shutil.which("relion_project") is None or shutil.which("relion_reconstruct") is None,
                    reason="RELION not on PATH")
def test_evaluate_reconstructs_3d_selections_and_reports_fsc(tmp_path: Path) -> None:
    """Class3D-like selections: both particle sets are reconstructed and compared with FSC."""
    n, angpix, count = 24, 4.0, 240
    for k in (1, 2):
        write_map(tmp_path / f"Class3D/job001/run_it025_class{k:03d}.mrc", two_blob_volume(n), angpix)
    star = relion_project(tmp_path, "Class3D/job001/run_it025_class001.mrc", random_poses(count), angpix, n,
                          "Extract/proj")
    particles = starfile.read(star)["particles"]
    particles["rlnClassNumber"] = np.where(np.arange(count) < count // 2, 1, 2)
    refs = [f"Class3D/job001/run_it025_class{k:03d}.mrc" for k in (1, 2)]
    for directory, sel in ((tmp_path / "External/job002", np.array([1, 1])),
                           (tmp_path / "Select/job003", np.array([1, 0]))):
        _write_selection(directory, sel, particles, optics_table(angpix, n), refs)
    opts = EvaluationOptions(reference=tmp_path / "Class3D/job001/run_it025_class001.mrc", html=False)
    result = evaluate(tmp_path / "External/job002", tmp_path / "Select/job003", tmp_path / "eval", opts)
    fsc = result["fsc"]
    assert set(fsc) == {"prediction vs truth", "prediction vs reference", "truth vs reference"}
    assert fsc["prediction vs reference"]["resolution_05"] < 12.0
    assert (tmp_path / "eval/fsc.png").is_file() and (tmp_path / "eval/reconstructions/truth.mrc").is_file()


def test_provenance_comes_from_the_json_beside_a_plain_scores_csv(project: Path) -> None:
    pred_dir = project / "External/job002"
    csv_path = pred_dir / "cryodiscovery_scores.csv"
    lines = csv_path.read_text().splitlines(keepends=True)
    csv_path.write_text("".join(line for line in lines if not line.startswith("#")))  # as the job writes it now
    assert read_predictions(pred_dir).provenance == {}
    (pred_dir / "cryodiscovery_scores.json").write_text(json.dumps({"provenance": {"model_version": "test-2"}}))
    assert read_predictions(pred_dir).provenance == {"model_version": "test-2"}
    (pred_dir / "cryodiscovery_scores.json").write_text("{}")
    with pytest.raises(CryoDiscoveryError, match="provenance"):
        read_predictions(pred_dir)
