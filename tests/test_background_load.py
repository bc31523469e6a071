"""The model load that overlaps reading the job: errors, stderr and the job contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from relion_cryodiscovery.pipeline import inference
from relion_cryodiscovery.relion.sentinels import FAILURE, SUCCESS

REPO = Path(__file__).resolve().parents[1]


def test_native_start_up_chatter_stays_out_of_run_out_and_run_err(monkeypatch, capfd):
    def fake_load(directory, parameters):
        os.write(2, b"E0000 failed call to cuInit\n")
        return "ensemble", "strategy"

    monkeypatch.setattr(inference, "load_model", fake_load)
    background = inference.BackgroundModel(Path("."), inference.JobParameters())
    assert background.loaded() == ("ensemble", "strategy")
    os.write(2, b"after\n")
    out, err = capfd.readouterr()
    assert "cuInit" not in out and "cuInit" not in err
    assert err == "after\n"
    background.close()  # idempotent


def test_an_error_in_the_thread_is_raised_by_result_with_the_native_log_in_run_out(monkeypatch, capfd):
    def broken_load(directory, parameters):
        os.write(2, b"F0000 native reason for the failure\n")
        raise RuntimeError("TensorFlow could not start")

    monkeypatch.setattr(inference, "load_model", broken_load)
    background = inference.BackgroundModel(Path("somewhere"), inference.JobParameters())
    with pytest.raises(RuntimeError, match="could not start"):
        background.loaded()
    os.write(2, b"restored\n")
    out, err = capfd.readouterr()
    assert err == "restored\n"
    assert "F0000 native reason for the failure" in out


def test_bad_data_star_fails_with_one_line_in_run_err_while_tensorflow_loads(
    example_project, example_data_star, tmp_path
):
    """As RELION runs it: the error while the model loads in the background still lands in run.err alone."""
    data = example_project / example_data_star
    lines = data.read_text().splitlines(keepends=True)
    last_row = max(i for i, line in enumerate(lines) if "@" in line)
    lines[last_row] = " ".join(lines[last_row].split()[:3]) + "\n"
    data.write_text("".join(lines))
    out = example_project / "External/job009"
    out.mkdir(parents=True)
    empty_model = tmp_path / "no model here"
    empty_model.mkdir()
    with (out / "run.out").open("w") as stdout, (out / "run.err").open("w") as stderr:
        code = subprocess.call(
            [sys.executable, str(REPO / "relion_external/cryodiscovery_select.py"), "--o", "External/job009/",
             "--in_parts", example_data_star, "--model", str(empty_model), "--j", "1"],
            cwd=example_project, stdout=stdout, stderr=stderr, timeout=300,
        )
    errors = (out / "run.err").read_text().strip().splitlines()
    assert code == 1 and (out / FAILURE).exists() and not (out / SUCCESS).exists()
    assert len(errors) == 1 and "truncated or corrupt" in errors[0] and data.name in errors[0], errors
