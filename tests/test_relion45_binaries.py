"""Opt-in: the External job run by a RELION 4.0 or 5.0 build's own pipeliner (``RELION4_BIN``, ``RELION5_BIN``).

Set ``RELION4_BIN`` and/or ``RELION5_BIN`` to the ``bin`` directory of a build (how to make one:
docs/relion_builds.md). Each one gets the same integration test as Debian's RELION 3.1 in
``test_relion_pipeliner.py``, in a fresh project made by that version's own jobs:

Import (the bundled example's particles) -> Class2D (EM, 2 iterations) -> CryoDiscovery External job
-> Class2D on its ``particles.star``.

Checked: the External job succeeds, RELION records our outputs under that version's node-type labels
(``relion/nodes.py``), the selected particles are exactly those of the kept classes, and a RELION job
runs on them. Without the variables the tests are skipped (CI has no RELION 4/5 build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import starfile

from conftest import REPO, new_project_with_particles, select_command_dir
from relion_cryodiscovery.relion.nodes import NODE_TYPES

EXECUTABLE = f"{sys.executable} {REPO / 'relion_external' / 'cryodiscovery_select.py'}"
BUILDS = {"4.0": "RELION4_BIN", "5.0": "RELION5_BIN"}
NEEDED = ("relion_pipeliner", "relion_import", "relion_refine")


def build_dir(version: str) -> Path:
    """The ``bin`` directory named by the version's variable; skips when unset, fails when incomplete."""
    value = os.environ.get(BUILDS[version], "")
    if not value:
        pytest.skip(f"{BUILDS[version]} is not set (opt-in test against a RELION {version} build)")
    directory = Path(value)
    missing = [name for name in NEEDED if not (directory / name).is_file()]
    assert not missing, f"{BUILDS[version]}={value} lacks {missing} (docs/relion_builds.md)"
    return directory


def pipeliner(project: Path, bin_dir: Path, *args: str, timeout: float = 900) -> None:
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run([str(bin_dir / "relion_pipeliner"), *args], cwd=project, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr


def pipeline(project: Path) -> dict:
    return starfile.read(project / "default_pipeline.star", always_dict=True)


def statuses(project: Path) -> dict[str, str]:
    """Process name -> RELION 4/5 status label ("Succeeded", "Failed", "Running", "Scheduled")."""
    processes = pipeline(project).get("pipeline_processes")
    if processes is None:  # a new project
        return {}
    return dict(zip(processes["rlnPipeLineProcessName"], processes["rlnPipeLineProcessStatusLabel"]))


def run_new_job(project: Path, bin_dir: Path, job_type: str, options: dict[str, str]) -> str:
    """Add a job with ``--addJob`` (a directory name such as ``Class2D`` works in 4.0 and 5.0), run it."""
    before = set(statuses(project))
    pipeliner(project, bin_dir, "--addJob", job_type,
              "--addJobOptions", "".join(f"{key} == {value};" for key, value in options.items()))
    (job,) = set(statuses(project)) - before
    pipeliner(project, bin_dir, "--RunJobs", job, "--sec_wait_after", "1")
    return job


@pytest.mark.relion
@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(BUILDS))
def test_external_job_in_a_project_of_that_version(version: str, tmp_path: Path) -> None:
    bin_dir = build_dir(version)
    project = new_project_with_particles(tmp_path)

    imported = run_new_job(project, bin_dir, "Import", {
        "do_raw": "No", "do_other": "Yes", "fn_in_other": "Simulated/particles.star",
        "node_type": "Particles STAR file (.star)"})
    assert statuses(project)[imported] == "Succeeded", (project / imported / "run.err").read_text()
    class2d_options = {
        "nr_classes": "4", "do_em": "Yes", "do_grad": "No", "nr_iter_em": "2", "particle_diameter": "110",
        "psi_sampling": "15", "offset_range": "3", "offset_step": "2", "nr_threads": "2", "nr_mpi": "1",
        "do_preread_images": "Yes", "other_args": "--random_seed 1"}
    class2d = run_new_job(project, bin_dir, "Class2D", {"fn_img": f"{imported}particles.star", **class2d_options})
    assert statuses(project)[class2d] == "Succeeded", (project / class2d / "run.err").read_text()
    data_star = f"{class2d}run_it002_data.star"

    external = run_new_job(project, bin_dir, "External", {
        "fn_exe": EXECUTABLE, "in_part": data_star, "param1_label": "min_particles", "param1_value": "5",
        # two EM iterations leave blurry classes: keep the 2 best whatever their scores (the job's
        # RELION plumbing is under test here, not the model)
        "param2_label": "min_classes", "param2_value": "2", "nr_threads": "2"})
    out = project / external
    assert statuses(project)[external] == "Succeeded", (out / "run.err").read_text()
    assert "model_version:" in (out / "run.out").read_text()

    nodes = pipeline(project)["pipeline_nodes"]
    labels = dict(zip(nodes["rlnPipeLineNodeName"], nodes["rlnPipeLineNodeTypeLabel"]))
    column = 2 if version == "5.0" else 1
    assert labels[f"{external}particles.star"] == NODE_TYPES["particles"][column]
    assert labels[f"{external}class_averages.star"] == NODE_TYPES["class_averages"][column]
    assert labels[f"{external}rank_optimiser.star"] == NODE_TYPES["rank_optimiser"][column]

    data = starfile.read(project / data_star, always_dict=True)
    kept = starfile.read(out / "particles.star", always_dict=True)
    selected = starfile.read(out / "backup_selection.star")["rlnSelected"].to_numpy() > 0
    classes = [number + 1 for number, keep in enumerate(selected) if keep]
    expected = data["particles"][data["particles"]["rlnClassNumber"].isin(classes)]
    assert list(kept["particles"]["rlnImageName"]) == list(expected["rlnImageName"])

    downstream = run_new_job(project, bin_dir, "Class2D", {
        "fn_img": f"{external}particles.star", **class2d_options, "nr_classes": "2"})
    assert statuses(project)[downstream] == "Succeeded", (project / downstream / "run.err").read_text()
    refined = starfile.read(project / downstream / "run_it002_data.star", always_dict=True)
    assert len(refined["particles"]) == len(expected)


SCHEME = REPO / "schedules" / "relion45_clean2d" / "Schemes" / "clean2d"


@pytest.mark.relion
@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(BUILDS))
def test_scheme_runs_cleaning_rounds_then_initial_model(version: str, tmp_path: Path) -> None:
    """The shipped Scheme run by that version's ``relion_schemer`` on the bundled example's particles."""
    from test_relion_schedule import expected_rounds, read_graph, set_job_options

    bin_dir = build_dir(version)
    missing = [name for name in ("relion_schemer", "relion_align_symmetry") if not (bin_dir / name).is_file()]
    if missing:  # InitialModel runs relion_align_symmetry after relion_refine
        pytest.skip(f"no {', '.join(missing)} in {bin_dir} (make schemer align_symmetry)")
    exe_dir = select_command_dir()
    project = new_project_with_particles(tmp_path)
    shutil.copytree(SCHEME, project / "Schemes" / "clean2d")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{exe_dir}{os.pathsep}{os.environ.get('PATH', '')}")

    def schemer(*args: str, timeout: float = 120) -> None:
        result = subprocess.run([str(bin_dir / "relion_schemer"), "--scheme", "clean2d", *args], cwd=project,
                                env=env, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, result.stdout + result.stderr

    for name, value in {"input_particles": "Simulated/particles.star", "particle_diameter": "130",
                        "class2d_classes": "6", "class2d_iter": "40", "inimodel_iter": "10",
                        "threads": "2"}.items():
        schemer("--set_var", name, "--value", value, "--original_value", value)
    set_job_options(project / "Schemes/clean2d/class2d/job.star",
                    {"psi_sampling": "10", "offset_range": "3", "do_preread_images": "Yes",
                     "other_args": "--random_seed 1"})
    set_job_options(project / "Schemes/clean2d/inimodel/job.star",
                    {"do_preread_images": "Yes", "other_args": "--random_seed 1"})
    schemer("--reset")
    schemer("--run", "--pipeline_control", "Schemes/clean2d/", timeout=3600)

    processes = pipeline(project)["pipeline_processes"]
    status = dict(zip(processes["rlnPipeLineProcessName"], processes["rlnPipeLineProcessStatusLabel"]))
    assert set(status.values()) == {"Succeeded"}, status
    class2d = sorted(p for p in status if p.startswith("Class2D/"))
    external = sorted(p for p in status if p.startswith("External/"))
    inimodel = [p for p in status if p.startswith("InitialModel/")]
    assert len(class2d) == len(external) >= 1 and len(inimodel) == 1
    final = read_graph(project / "Schemes/clean2d", "Scheme")
    fractions = []
    for class2d_job, external_job in zip(class2d, external):
        data = sorted((project / class2d_job).glob("run_it*_data.star"))[-1]
        n_in = len(starfile.read(data, always_dict=True)["particles"])
        n_kept = len(starfile.read(project / external_job / "particles.star", always_dict=True)["particles"])
        fractions.append(1 - n_kept / n_in)
    rounds = expected_rounds(fractions, final.floats["min_reject_fraction"], int(final.floats["max_rounds"]))
    assert len(class2d) == rounds, fractions
    assert final.floats["round"] == rounds and final.bools["stop_cleaning"]
    assert final.strings["current_particles"] == f"{external[-1]}particles.star"
    assert list((project / inimodel[0]).glob("run_it*_class001.mrc"))
