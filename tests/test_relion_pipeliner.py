"""The External job run by RELION 3.1's own pipeliner, and a RELION job consuming its output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import starfile

from conftest import REPO, requires_relion

pytestmark = [requires_relion, pytest.mark.relion, pytest.mark.slow]

EXECUTABLE = f"{sys.executable} {REPO / 'relion_external' / 'cryodiscovery_select.py'}"


def pipeliner(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["relion_pipeliner", *args], cwd=project, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def add_job(project: Path, job_type: str, options: dict[str, str]) -> str:
    """Schedule a job; returns its directory name, e.g. ``External/job003/``."""
    before = set(process_status(project))
    text = "".join(f"{key} == {value};" for key, value in options.items())
    pipeliner(project, "--addJob", job_type, "--addJobOptions", text)
    (new,) = set(process_status(project)) - before
    return new


def process_status(project: Path) -> dict[str, int]:
    processes = starfile.read(project / "default_pipeline.star", always_dict=True)["pipeline_processes"]
    return dict(zip(processes["rlnPipeLineProcessName"], processes["rlnPipeLineProcessStatus"]))


def pipeline_nodes(project: Path) -> dict[str, int]:
    nodes = starfile.read(project / "default_pipeline.star", always_dict=True).get("pipeline_nodes")
    return dict(zip(nodes["rlnPipeLineNodeName"], nodes["rlnPipeLineNodeType"])) if nodes is not None else {}


def run_jobs(project: Path, job: str) -> None:
    pipeliner(project, "--RunJobs", job, "--sec_wait_after", "1")


def test_external_job_through_pipeliner_then_class2d_consumes_it(example_project, example_data_star):
    job = add_job(
        example_project,
        "External",
        {"fn_exe": EXECUTABLE, "in_part": example_data_star, "param1_label": "min_particles",
         "param1_value": "5", "nr_threads": "2"},
    )
    run_jobs(example_project, job)
    out = example_project / job
    assert (out / "RELION_JOB_EXIT_SUCCESS").exists(), (out / "run.err").read_text()
    assert process_status(example_project)[job] == 2  # finished
    # TensorFlow's native start-up lines (oneDNN notes, "E0000 ... failed call to cuInit" without a
    # GPU) stay out of the job's logs; the job's own report is there
    run_out = (out / "run.out").read_text()
    assert "model_version:" in run_out and "particles_written:" in run_out
    for native in ("I0000", "E0000", "W0000", "cuInit", "oneDNN", "absl::InitializeLog"):
        assert native not in run_out and native not in (out / "run.err").read_text(), native
    nodes = pipeline_nodes(example_project)
    assert nodes[f"{job}particles.star"] == 3
    assert nodes[f"{job}class_averages.star"] == 5
    assert nodes[f"{job}rank_model.star"] == 8

    # exactly the particles of the selected classes, in original order, all columns
    data = starfile.read(example_project / example_data_star, always_dict=True)
    kept = starfile.read(out / "particles.star", always_dict=True)
    selected = starfile.read(out / "backup_selection.star")["rlnSelected"].to_numpy() > 0
    classes = np.flatnonzero(selected) + 1
    expected = data["particles"][data["particles"]["rlnClassNumber"].isin(classes)]
    assert list(kept["particles"]["rlnImageName"]) == list(expected["rlnImageName"])
    assert list(kept["particles"].columns) == list(data["particles"].columns)
    assert kept["optics"].equals(data["optics"])

    downstream = add_job(
        example_project,
        "Class2D",
        {"fn_img": f"{job}particles.star", "nr_classes": "2", "nr_iter": "1", "particle_diameter": "110",
         "psi_sampling": "15", "offset_range": "3", "offset_step": "2", "nr_threads": "2", "nr_mpi": "1",
         "do_preread_images": "Yes", "other_args": "--random_seed 1"},
    )
    run_jobs(example_project, downstream)
    assert process_status(example_project)[downstream] == 2, (example_project / downstream / "run.err").read_text()
    refined = sorted((example_project / downstream).glob("run_it*_data.star"))[-1]
    assert len(starfile.read(refined, always_dict=True)["particles"]) == len(expected)


def test_broken_input_leaves_job_failed_not_running(example_project, example_data_star):
    broken = example_project / "Class2D" / "job001" / "run_it999_data.star"
    broken.write_text("data_particles\nloop_\n_rlnImageName #1\n")
    (example_project / "Class2D" / "job001" / "run_it999_model.star").write_text("garbage")
    job = add_job(example_project, "External", {"fn_exe": EXECUTABLE, "in_part": str(broken.relative_to(example_project))})
    run_jobs(example_project, job)
    assert process_status(example_project)[job] == 3  # failed
    error_lines = (example_project / job / "run.err").read_text().strip().splitlines()
    assert len(error_lines) == 1 and "run_it999" in error_lines[0]
    assert not (example_project / job / "particles.star").exists()
