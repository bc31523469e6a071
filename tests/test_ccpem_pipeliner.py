"""Our CCP-EM pipeliner jobs (relion_external/ccpem_pipeliner_job.py), run by the real, installed pipeliner.

Projects are the repository's own RELION 3.1 projects (examples/class2d_small, corpus/relion3d/relion3d3000)
converted with ``pipeliner --convert_pipeline_file``, so our job's input is a node produced by a real Class2D
or Class3D process. Needs ``pip install -e ".[ccpem]"`` (scripts/setup.sh does it); skipped without it,
except under CI, where a missing pipeliner is an error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import starfile

from conftest import REPO

if importlib.util.find_spec("pipeliner") is None and not os.environ.get("CI"):
    pytest.skip("the CCP-EM pipeliner is not installed (pip install -e '.[ccpem]')", allow_module_level=True)

from pipeliner.api.manage_project import PipelinerProject  # noqa: E402
from pipeliner.job_factory import new_job_of_type  # noqa: E402
from pipeliner.node_factory import NODE_CLASSES, create_node  # noqa: E402

from relion_cryodiscovery.cli.external_args import PARAMETER_HELP, parse_external  # noqa: E402
from relion_cryodiscovery.relion.nodes import NODE_TYPES, OutputNode  # noqa: E402
from relion_cryodiscovery.version import __version__  # noqa: E402
from relion_external.ccpem_pipeliner_job import CryoDiscoverySelectJob, CryoDiscoveryTrainJob  # noqa: E402

SELECT = "cryodiscovery.select.class_averages"
TRAIN = "cryodiscovery.select.class_averages.train"
BIN = Path(sys.executable).parent
PIPELINER = str(BIN / "pipeliner")
CLASS3D = REPO / "corpus" / "relion3d"
OPTIMISER_2D = "Class2D/job001/run_it018_optimiser.star"
#: Our CLI parameters that are deliberately not job options: angpix is for scoring a bare stack;
#: relion_version only picks RELION_OUTPUT_NODES.star's labels, fixed to 5.0 (the pipeliner's node types).
NOT_OPTIONS = {"angpix", "relion_version"}


def run_pipeliner(project: Path, *args: str, env: dict | None = None) -> str:
    result = subprocess.run([PIPELINER, *args], cwd=project, capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def bring_in_relion31_project(source: Path, project: Path) -> Path:
    """A copy of a RELION 3.1 project, its pipeline converted to the CCP-EM pipeliner's format (as the docs'
    "Use" steps do it: ``python -m relion_external.ccpem_project convert``)."""
    if source != project:
        shutil.copytree(source, project)
    converted = subprocess.run([sys.executable, "-m", "relion_external.ccpem_project", "convert", str(project)],
                               capture_output=True, text=True, timeout=300)
    assert converted.returncode == 0, converted.stdout + converted.stderr
    return project


def pipeline(project: Path) -> dict:
    """default_pipeline.star: process -> (type, status), node -> type, edges as pairs."""
    blocks = starfile.read(project / "default_pipeline.star", always_dict=True)
    processes, nodes = blocks["pipeline_processes"], blocks["pipeline_nodes"]
    inputs, outputs = blocks["pipeline_input_edges"], blocks["pipeline_output_edges"]
    return {
        "processes": {name: (kind, status) for name, kind, status in zip(
            processes["rlnPipeLineProcessName"], processes["rlnPipeLineProcessTypeLabel"],
            processes["rlnPipeLineProcessStatusLabel"])},
        "nodes": dict(zip(nodes["rlnPipeLineNodeName"], nodes["rlnPipeLineNodeTypeLabel"])),
        "inputs": set(zip(inputs["rlnPipeLineEdgeFromNode"], inputs["rlnPipeLineEdgeProcess"])),
        "outputs": set(zip(outputs["rlnPipeLineEdgeProcess"], outputs["rlnPipeLineEdgeToNode"])),
    }


def check_declared_nodes(project: Path, job: str) -> None:
    """Every node our command declared in RELION_OUTPUT_NODES.star (5.0 labels) is a pipeliner node type,
    and the pipeline records it with that top-level type."""
    declared = starfile.read(project / job / "RELION_OUTPUT_NODES.star")
    nodes = pipeline(project)["nodes"]
    assert len(declared) > 0
    for name, label in zip(declared["rlnPipeLineNodeName"], declared["rlnPipeLineNodeTypeLabel"]):
        assert label.split(".")[0] in NODE_CLASSES, label
        assert nodes[name].split(".")[0] == label.split(".")[0], (name, nodes[name], label)


def selected_classes(job_dir: Path) -> list[int]:
    selected = starfile.read(job_dir / "backup_selection.star")["rlnSelected"].tolist()
    return [number for number, keep in enumerate(selected, start=1) if keep]


def test_available_jobs_select_lists_our_jobs_without_the_venv_on_path(tmp_path):
    """`pipeliner --available_jobs select` (the issue's acceptance check); PATH lacks the venv's bin."""
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    listing = run_pipeliner(tmp_path, "--available_jobs", "select", env=env)
    available = listing.split("Unavailable jobs")[0].split()
    assert SELECT in available and TRAIN in available, listing
    info = run_pipeliner(tmp_path, "--job_info", SELECT, env=env)
    assert "cryodiscovery_select" in info and __version__ in info, info


def test_plugin_import_and_construction_do_not_start_tensorflow():
    code = ("import sys, relion_external.ccpem_pipeliner_job as m; m.CryoDiscoverySelectJob(); "
            "m.CryoDiscoveryTrainJob(); "
            "print(sorted(k for k in ('tensorflow', 'keras') if k in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_job_types_and_options_mirror_our_parameters():
    select, train = new_job_of_type(SELECT), new_job_of_type(TRAIN)
    assert isinstance(select, CryoDiscoverySelectJob) and isinstance(train, CryoDiscoveryTrainJob)
    for job in (select, train):
        assert job.CATEGORY_LABEL == "Automated Class Selection" and job.jobinfo.is_available
    missing = set(PARAMETER_HELP) - NOT_OPTIONS - set(select.joboptions)
    assert not missing, f"CLI parameters without a job option: {missing}"
    assert {"fn_model", "fn_data", "nr_threads", "other_args"} <= set(select.joboptions)


def test_command_is_our_cli_and_parses_back_to_the_chosen_parameters():
    job = new_job_of_type(SELECT)
    job.output_dir = "CryoDiscovery/job007/"
    chosen = {"fn_model": "Class2D/job001/run_it018_optimiser.star", "min_score": 0.3, "min_particles": 7,
              "min_classes": 2, "model": "Some/job004/model/model_card.json", "gpus": "cpu", "batch_size": 32,
              "montage": False, "groups": "auto", "nr_threads": 2, "other_args": "--extra_label 5"}
    for key, value in chosen.items():
        job.joboptions[key].value = value
    errors = [str(error) for error in job.validate_joboptions() if error.type == "error"]
    assert errors == []  # (missing input files are only warnings)
    version, select = (command.get_final_command(job.output_dir) for command in job.get_commands())
    assert version == [str(BIN / "relion_cryodiscovery"), "--version"]
    assert select[0] == str(BIN / "cryodiscovery_select")
    parsed = parse_external(select[1:])
    assert parsed.out_dir == "CryoDiscovery/job007/"
    assert parsed.inputs == {"in_parts": "Class2D/job001/run_it018_optimiser.star"}
    p = parsed.parameters
    assert (p.min_score, p.min_particles, p.min_classes, p.model, p.gpus, p.batch_size, p.montage,
            p.threads, p.grouping) == (0.3, 7, 2, "Some/job004/model", "cpu", 32, False, 2, "auto")
    assert p.relion_version == "5.0" and p.unknown == {"extra_label": "5"}

    job.joboptions["min_score"].value = None  # blank: the model's calibrated threshold
    job.joboptions["model"].value = ""
    job.joboptions["groups"].value = "0"  # off: not passed
    command = job.get_commands()[-1].get_final_command(job.output_dir)
    parsed = parse_external(command[1:]).parameters
    assert parsed.min_score is None and parsed.model is None and "--groups" not in command


@pytest.mark.parametrize("chosen, dimensionality, nodes", [
    ({"fn_model": OPTIMISER_2D}, 2, ["particles.star", "class_averages.star", "rank_optimiser.star"]),
    ({"fn_data": "Class2D/job001/run_it018_data.star"}, 2,
     ["particles.star", "class_averages.star", "rank_optimiser.star"]),
    ({"fn_data": "Class3D/job001/run_it013_data.star"}, 3, ["particles.star", "rank_optimiser.star"]),
    ({"fn_model": "Class2D/job009/run_it025_optimiser.star"}, None, ["particles.star"]),  # not run yet
])
def test_scheduled_output_nodes_follow_the_input_job(chosen, dimensionality, nodes, example_project, monkeypatch):
    """The nodes known before the run, from the input job's files as relion/ reads them: class_averages.star
    for a 2D job (``_rlnReferenceDimensionality`` of its model.star), rank_optimiser.star when it has an
    optimiser.star; a job whose files are not there yet gets particles.star alone."""
    shutil.copytree(CLASS3D / "relion3d3000" / "Class3D", example_project / "Class3D")
    monkeypatch.chdir(example_project)
    job = new_job_of_type(SELECT)
    job.output_dir = "CryoDiscovery/job005/"
    for key, value in chosen.items():
        job.joboptions[key].value = value
    assert job.dimensionality() == dimensionality
    job.create_output_nodes()
    assert [node.name for node in job.output_nodes] == [job.output_dir + name for name in nodes]


def test_the_nodes_our_command_declared_are_read_back(tmp_path):
    from relion_cryodiscovery.relion.nodes import NODES_FILE, write_nodes
    from relion_external.ccpem_results import nodes_declared

    nodes = [OutputNode("CryoDiscovery/job003/particles.star", "particles"),
             OutputNode("CryoDiscovery/job003/class_001.mrc", "map")]
    with (tmp_path / NODES_FILE).open("w") as handle:
        write_nodes(handle, nodes, "5.0")
    assert nodes_declared(tmp_path / NODES_FILE) == [(node.name, node.type_label("5.0")) for node in nodes]
    assert nodes_declared(tmp_path / "missing" / NODES_FILE) == []


def test_group_particles_files_become_particle_nodes_after_the_run(tmp_path, monkeypatch):
    from relion_cryodiscovery.relion.nodes import NODES_FILE, write_nodes

    monkeypatch.chdir(tmp_path)
    job = new_job_of_type(SELECT)
    job.output_dir = "CryoDiscovery/job003/"
    Path(job.output_dir).mkdir(parents=True)
    names = ["particles.star", "particles_group_1.star", "particles_group_2.star"]
    with (Path(job.output_dir) / NODES_FILE).open("w") as handle:
        write_nodes(handle, [OutputNode(job.output_dir + name, "particles") for name in names], "5.0")
    job.create_post_run_output_nodes()
    assert [(node.name, node.type) for node in job.output_nodes] == [
        (job.output_dir + name, "ParticleGroupMetadata.star.relion") for name in names]


@pytest.mark.parametrize("kind", sorted(NODE_TYPES))
def test_relion5_node_labels_we_write_are_pipeliner_node_types(kind):
    """RELION_OUTPUT_NODES.star's 5.0 labels, read the way the pipeliner reads a pipeline's node types."""
    label = OutputNode("External/job003/x", kind).type_label("5.0")
    toplevel, extension, *keywords = label.split(".")
    assert toplevel in NODE_CLASSES, f"{label}: {toplevel} is not a CCP-EM pipeliner node type"
    node = create_node(f"External/job003/file.{extension}", toplevel, keywords, do_validation=False)
    assert type(node) is NODE_CLASSES[toplevel]
    assert node.type == label


def test_convert_adds_is_tomo_to_relion31_job_stars_once(example_project):
    from relion_external.ccpem_project import add_is_tomo

    job_stars = sorted(example_project.glob("*/job*/job.star"))
    assert len(job_stars) == 2 and not any("_rlnJobIsTomo" in p.read_text() for p in job_stars)
    assert add_is_tomo(example_project) == job_stars
    for job_star in job_stars:
        block = starfile.read(job_star, always_dict=True)["job"]
        assert block["rlnJobIsTomo"] == 0 and block["rlnJobIsContinue"] == 0
    assert add_is_tomo(example_project) == []  # already there: unchanged


def test_wait_gives_up_after_its_timeout_on_a_job_still_running(tmp_path):
    (tmp_path / "CryoDiscovery/job003").mkdir(parents=True)
    waited = subprocess.run([sys.executable, "-m", "relion_external.ccpem_project", "wait", "CryoDiscovery/job003/",
                             "--timeout", "0.5"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert waited.returncode == 2 and "still running after 0.5 s" in waited.stderr


def documented_use() -> tuple[str, str]:
    """The bash and the Python block of docs/ccpem_pipeliner.md's "Use" section, as written there."""
    section = (REPO / "docs" / "ccpem_pipeliner.md").read_text().split("\n## Use\n", 1)[1].split("\n## ", 1)[0]
    bash = section.split("```bash\n", 1)[1].split("```", 1)[0]
    python = section.split("```python\n", 1)[1].split("```", 1)[0]
    return bash, python


@pytest.mark.slow
def test_the_documented_use_steps_run_in_order_on_a_fresh_copy_of_the_bundled_example(tmp_path):
    """docs/ccpem_pipeliner.md's "Use" steps, run as written and in that order from the checkout (the bash block
    copies the bundled RELION 3.1 example, converts it, writes and edits the job.star, prints the command, runs
    the job, waits for it, makes the results display and the metadata report), then its Python block in the
    same project. Each step must work where it stands: ``--print_command`` on a converted project, and
    ``--metadata_report`` straight after the wait gives the job's results, not "has not finished"."""
    bash, python = documented_use()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
    done = subprocess.run(["bash", "-e", "-u", "-o", "pipefail", "-c", bash + "\npwd\n"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    project = Path(done.stdout.strip().splitlines()[-1])
    assert project.parent == tmp_path  # the block's fresh copy, not the bundled example
    assert not (REPO / "examples" / "class2d_small" / "CryoDiscovery").exists()
    optimiser = OPTIMISER_2D
    job = "CryoDiscovery/job003/"
    assert f"cryodiscovery_select --o {job} --in_parts {optimiser}" in done.stdout, done.stdout
    assert f"{job}: Succeeded" in done.stdout

    recorded = pipeline(project)
    assert recorded["nodes"][optimiser] == "OptimiserData.star.relion.class2d"
    assert recorded["processes"][job] == (SELECT, "Succeeded")  # recorded by the wait, before any other command
    expected = {
        f"{job}particles.star": "ParticleGroupMetadata.star.relion",
        f"{job}class_averages.star": "Image2DGroupMetadata.star.relion.classaverages",
        f"{job}rank_optimiser.star": "OptimiserData.star.relion.autoselect",
    }
    assert {name: kind for name, kind in recorded["nodes"].items() if name.startswith(job)} == expected
    job_pipeline = starfile.read(project / job / "job_pipeline.star", always_dict=True)["pipeline_nodes"]
    mini = dict(zip(job_pipeline["rlnPipeLineNodeName"], job_pipeline["rlnPipeLineNodeTypeLabel"]))
    assert {name: kind for name, kind in mini.items() if name.startswith(job)} == expected  # post-run nodes
    assert {(job, name) for name in expected} == {edge for edge in recorded["outputs"] if edge[0] == job}
    assert (optimiser, job) in recorded["inputs"] and ("Class2D/job001/", optimiser) in recorded["outputs"]
    for name, kind in expected.items():
        marker = project / ".Nodes" / kind.split(".")[0] / name
        assert marker.exists(), marker
    check_declared_nodes(project, job)

    # the outputs are our selection: the selected classes' particles, in order, and their class averages
    out = project / job
    kept = selected_classes(out)
    assert 0 < len(kept) < 12
    data = starfile.read(project / "Class2D/job001/run_it018_data.star", always_dict=True)["particles"]
    particles = starfile.read(out / "particles.star", always_dict=True)["particles"]
    assert list(particles["rlnImageName"]) == list(data[data["rlnClassNumber"].isin(kept)]["rlnImageName"])
    assert starfile.read(out / "class_averages.star")["rlnClassNumber"].tolist() == kept
    assert f"relion_cryodiscovery {__version__}" in (out / "run.out").read_text()
    command = json.loads((out / "cryodiscovery_scores.json").read_text())["provenance"]["command_line"]
    assert "--min_particles 5 " in command and command.endswith(" --j 2")  # the options the block set

    # the results display (what Doppio shows) and the metadata report, as the block made them
    displays = {p.name.split("_", 2)[-1].removesuffix(".json"): json.loads(p.read_text())
                for p in sorted(out.glob(".results_display*.json"))}
    assert set(displays) == {"image", "table", "montage", "text"}, displays
    assert displays["image"]["image_path"] == f"{job}cryodiscovery_montage.png"
    assert (project / displays["image"]["image_path"]).stat().st_size > 0
    rows = displays["table"]["table_data"]
    assert [int(row[0]) for row in rows if row[2] == "yes"] == kept and len(rows) == 12
    table = pd.read_csv(out / "cryodiscovery_scores.csv")
    scores = dict(zip(table["class_number"], table["score"]))
    assert [row[1] for row in rows] == [f"{scores[int(row[0])]:.3f}" for row in rows]
    assert displays["montage"]["labels"] == [f"Class {n}: {scores[n]:.2f}" for n in kept]
    (report_file,) = (project / "MetadataReports").glob("*.json")
    results = json.loads(report_file.read_text())["Jobs metadata"][job]["results"]
    assert all(scores[n] >= round(results["ScoreThreshold"], 3) for n in kept)
    assert results["NumberOfSelectedParticles"] == len(particles)
    assert results["NumberOfSelectedClasses"] == len(kept) and results["NumberOfClasses"] == 12

    # the Python block, in the same project: the next job, recorded as it returns
    ran = subprocess.run([sys.executable, "-c", python], cwd=project, env=env, capture_output=True, text=True,
                         timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert pipeline(project)["processes"]["CryoDiscovery/job004/"] == (SELECT, "Succeeded")
    assert selected_classes(project / "CryoDiscovery/job004") == kept  # the same options, the same selection


@pytest.mark.slow
def test_train_then_select_3d_through_the_api(tmp_path, monkeypatch):
    """A train job on this project's Select job plus two others, then a 3D selection with that model,
    given the Class3D data.star: maps are output nodes, the model is an input edge."""
    project = bring_in_relion31_project(CLASS3D / "relion3d3000", tmp_path / "project")
    manifest = tmp_path / "more_jobs.csv"
    manifest.write_text("job,selection\n" + "".join(
        f"{CLASS3D / name}/Class3D/job001/run_it{it}_optimiser.star,{CLASS3D / name}/Select/job002\n"
        for name, it in (("relion3d3001", "013"), ("relion3d3002", "012"))))
    monkeypatch.chdir(project)
    api = PipelinerProject()
    train = api.run_job({"_rlnJobTypeLabel": TRAIN, "fn_manifest": str(manifest), "epochs": 1,
                         "val_fraction": 0.34, "test_fraction": 0.0, "model_version": "pipeliner-test"},
                        run_in_foreground=True)
    card = f"{train.output_dir}model/model_card.json"
    recorded = pipeline(project)
    errors = (project / train.output_dir / "run.err").read_text()
    assert recorded["processes"][train.output_dir] == (TRAIN, "Succeeded"), errors
    assert recorded["nodes"][card] == "MlModel.json.cryodiscovery"
    trained_on = json.loads((project / card).read_text())["training_data"]
    jobs = trained_on["train_jobs"] + trained_on["val_jobs"]
    assert len(jobs) == 3 and [job for job in jobs if not job.startswith(str(CLASS3D))]  # ours + 2 listed

    data = "Class3D/job001/run_it013_data.star"
    select = api.run_job({"_rlnJobTypeLabel": SELECT, "fn_data": data, "model": card, "nr_threads": 2},
                         run_in_foreground=True)
    job = select.output_dir
    recorded = pipeline(project)
    assert recorded["processes"][job] == (SELECT, "Succeeded"), (project / job / "run.err").read_text()
    assert {(data, job), (card, job)} <= recorded["inputs"]
    kept = selected_classes(project / job)
    expected = {f"{job}particles.star": "ParticleGroupMetadata.star.relion",
                f"{job}rank_optimiser.star": "OptimiserData.star.relion.autoselect"}
    expected.update({f"{job}class_{n:03d}.mrc": "DensityMap.mrc" for n in kept})
    assert {name: kind for name, kind in recorded["nodes"].items() if name.startswith(job)} == expected
    check_declared_nodes(project, job)
    assert "model_version: pipeliner-test" in (project / job / "run.out").read_text()
    titles = [display.title for display in select.create_results_display()]
    assert titles[:2] == ["CryoDiscovery: every class with its score (kept classes framed)",
                          "Class scores (calibrated P(good))"]


def test_a_failing_command_leaves_the_job_failed_with_our_error(example_project, monkeypatch):
    project = bring_in_relion31_project(example_project, example_project)
    monkeypatch.chdir(project)
    job = PipelinerProject().run_job({"_rlnJobTypeLabel": SELECT, "fn_model": OPTIMISER_2D,
                                      "other_args": "--batch_size 0"}, run_in_foreground=True)
    recorded = pipeline(project)
    assert recorded["processes"][job.output_dir] == (SELECT, "Failed")
    assert not [name for name in recorded["nodes"] if name.startswith(job.output_dir)]
    error = (project / job.output_dir / "run.err").read_text().strip()
    assert error == "ERROR: batch_size must be between 1 and 65536, not 0"


def test_invalid_inputs_are_refused_before_running(example_project, monkeypatch):
    project = bring_in_relion31_project(example_project, example_project)
    monkeypatch.chdir(project)
    api = PipelinerProject()
    for options, message in (
        ({}, "choose the Class2D/Class3D optimiser.star or data.star"),
        ({"fn_model": OPTIMISER_2D, "fn_data": "Class2D/job001/run_it018_data.star"},
         "choose either an optimiser.star or a data.star"),
        ({"fn_model": OPTIMISER_2D, "model": "Class2D/job001/run_it018_model.star"},
         "choose the model_card.json"),
        ({"fn_model": OPTIMISER_2D, "groups": "many"}, "groups must be 0"),
    ):
        with pytest.raises(ValueError, match=message):
            api.run_job({"_rlnJobTypeLabel": SELECT, **options}, run_in_foreground=True)
    assert not [name for name in pipeline(project)["processes"] if name.startswith("CryoDiscovery/")]
