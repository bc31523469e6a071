"""Unattended cleaning rounds: the RELION 3.1 Schedule and the RELION 4.0/5.0 Scheme in ``schedules/``.

* The 3.1 Schedule is run by Debian's ``relion_scheduler`` on the bundled example's particles
  (35% junk) with tiny Class2D settings: Class2D -> CryoDiscovery -> Class2D ... until a round
  rejects under ``min_reject_fraction`` of its input or ``max_rounds`` rounds ran, then InitialModel.
* The 4.0/5.0 Scheme is run by RELION 4.0/5.0 builds only in the opt-in ``test_relion45_binaries.py``
  (CI has no such build). Here its files are checked against
  the format RELION 4.0.2/5.0.1 read (``src/schemer.cpp``), and its control flow is executed by a
  small interpreter that follows ``Scheme::run`` and ``SchemerOperator::performOperation``.
  The same interpreter runs the 3.1 Schedule's graph, so both graphs are held to the same rule.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import starfile

from conftest import REPO, new_project_with_particles, requires_relion, select_command_dir

SCHEDULE = REPO / "schedules" / "relion31_clean2d" / "Schedules" / "clean2d"
BUILD_SCRIPT = REPO / "schedules" / "relion31_clean2d" / "build_schedule.sh"
SCHEME = REPO / "schedules" / "relion45_clean2d" / "Schemes" / "clean2d"


# --------------------------------------------------------------------------------------------
# Reading Schedules (3.1, blocks schedule_*) and Schemes (4.0/5.0, blocks scheme_*)
# --------------------------------------------------------------------------------------------

@dataclass
class Graph:
    """A Schedule or Scheme as RELION reads it (``Schedule::read`` / ``Scheme::read``)."""

    name: str
    current_node: str
    floats: dict[str, float]
    bools: dict[str, bool]
    strings: dict[str, str]
    operators: dict[str, tuple[str, str, str, str]]  # name -> (type, output, input1, input2)
    jobs: dict[str, tuple[str, str]]  # original name -> (current name, mode)
    edges: list[tuple[str, str, bool, str, str]]  # (input, output, is_fork, output_if_true, bool)
    job_options: dict[str, dict[str, str]] = field(default_factory=dict)
    job_types: dict[str, object] = field(default_factory=dict)


def read_graph(directory: Path, kind: str) -> Graph:
    """``kind`` is "Schedule" (RELION 3.1) or "Scheme" (4.0/5.0)."""
    prefix = kind.lower()
    star = starfile.read(directory / f"{prefix}.star", always_dict=True)
    label = f"rln{kind}"
    general = star[f"{prefix}_general"]

    def table(block: str, *columns: str):
        frame = star[f"{prefix}_{block}"]
        return list(zip(*(frame[f"{label}{c}"] for c in columns)))

    graph = Graph(
        name=general[f"{label}Name"],
        current_node=general[f"{label}CurrentNodeName"],
        floats={n: float(v) for n, v in table("floats", "FloatVariableName", "FloatVariableValue")},
        bools={n: bool(int(v)) for n, v in table("bools", "BooleanVariableName", "BooleanVariableValue")},
        strings={n: str(v) for n, v in table("strings", "StringVariableName", "StringVariableValue")},
        operators={n: (t, o, i1, i2) for n, t, o, i1, i2 in table(
            "operators", "OperatorName", "OperatorType", "OperatorOutput", "OperatorInput1",
            "OperatorInput2")},
        jobs={o: (c, m) for o, c, m in table("jobs", "JobNameOriginal", "JobName", "JobMode")},
        edges=[(i, o, bool(int(f)), t, b) for i, o, f, t, b in table(
            "edges", "EdgeInputNodeName", "EdgeOutputNodeName", "EdgeIsFork", "EdgeOutputNodeNameIfTrue",
            "EdgeBooleanVariable")],
    )
    for job in graph.jobs:
        job_star = starfile.read(directory / job / "job.star", always_dict=True)
        values = job_star["joboptions_values"]
        pairs = zip(values["rlnJobOptionVariable"], values["rlnJobOptionValue"])
        graph.job_options[job] = {str(k): "" if str(v) == "nan" else str(v) for k, v in pairs}
        head = job_star["job"]
        graph.job_types[job] = head.get("rlnJobTypeLabel", head.get("rlnJobType"))
    return graph


# --------------------------------------------------------------------------------------------
# An interpreter of the graph, following RELION's Schedule::run / Scheme::run
# --------------------------------------------------------------------------------------------

class FakeProject:
    """What the jobs leave on disk, as far as the operators look at it: files and their particle counts."""

    def __init__(self, n_particles: int, reject_fractions: list[float], class2d_files: int = 4):
        self.files: dict[str, int] = {"Input/particles.star": n_particles}
        self.reject_fractions = list(reject_fractions)
        self.class2d_files = class2d_files
        self.counter = 0
        self.log: list[tuple[str, str, str]] = []  # (node, job directory, its input)

    def run_job(self, node: str, options: dict[str, str]) -> str:
        self.counter += 1
        if node == "class2d":
            directory = f"Class2D/job{self.counter:03d}/"
            source = options["fn_img"]
            for it in range(self.class2d_files):
                self.files[f"{directory}run_it{it:03d}_data.star"] = self.files[source]
        elif node == "cryodiscovery":
            directory = f"External/job{self.counter:03d}/"
            source = options["in_part"]
            n_in = self.files[source]
            self.files[f"{directory}particles.star"] = round(n_in * (1 - self.reject_fractions.pop(0)))
        else:
            directory = f"InitialModel/job{self.counter:03d}/"
            source = options["fn_img"]
        self.log.append((node, directory, source))
        return directory

    def glob(self, pattern: str) -> list[str]:
        return sorted(name for name in self.files if fnmatch.fnmatch(name, pattern))


def run_graph(graph: Graph, project: FakeProject, max_steps: int = 500) -> Graph:
    """Execute the graph on ``project``; returns the final state. Operator semantics are RELION's,
    including its quirks (a literal number as input2 counts as 0; nth_word counts from 1)."""
    floats, bools, strings = dict(graph.floats), dict(graph.bools), dict(graph.strings)
    current_names = {job: job for job in graph.jobs}

    def replace_job_names(value: str) -> str:
        for job, current in current_names.items():
            value = value.replace(f"{graph.name}{job}/", current)
        return value

    def value2(name: str) -> float:
        return floats.get(name, 0.0)

    def operate(name: str) -> bool:
        kind, out, in1, in2 = graph.operators[name]
        text1 = replace_job_names(strings[in1]) if in1 in strings else None
        if kind == "exit":
            return False
        if kind in ("string=set", "string=glob"):
            strings[out] = text1 if kind == "string=set" else (",".join(project.glob(text1)) or "undefined")
        elif kind == "float=count_words":
            floats[out] = 0.0 if text1 == "undefined" else float(len(text1.split(",")))
        elif kind == "string=nth_word":
            words, position = text1.split(","), round(value2(in2))
            if position < 0:
                position = len(words) - position + 1  # as RELION writes it (counts from the end wrongly)
            strings[out] = words[position - 1] if 1 <= position <= len(words) else "undefined"
        elif kind == "float=count_images":
            floats[out] = float(project.files.get(text1, 0))
        elif kind in ("float=plus", "float=minus", "float=mult", "float=divide"):
            a, b = floats[in1], value2(in2)
            floats[out] = {"float=plus": a + b, "float=minus": a - b, "float=mult": a * b,
                           "float=divide": a / b if b else float("inf")}[kind]
        elif kind in ("bool=lt", "bool=le", "bool=gt", "bool=ge"):
            a, b = floats[in1], value2(in2)
            bools[out] = {"bool=lt": a < b, "bool=le": a <= b, "bool=gt": a > b, "bool=ge": a >= b}[kind]
        elif kind in ("bool=and", "bool=or"):
            bools[out] = (bools[in1] and bools[in2]) if kind == "bool=and" else (bools[in1] or bools[in2])
        else:
            raise AssertionError(f"operator type {kind} not interpreted")
        return True

    def next_node(node: str) -> str:
        result = "undefined"
        for source, target, is_fork, if_true, flag in graph.edges:  # the last matching edge wins
            if source == node:
                result = if_true if is_fork and bools[flag] else target
        return result

    def job_options(job: str) -> dict[str, str]:
        options = {}
        for key, value in graph.job_options[job].items():
            if value.startswith("$$"):
                variable = value[2:]
                value = strings.get(variable, floats.get(variable, bools.get(variable)))
                value = str(value)
            options[key] = replace_job_names(value)
        return options

    node = graph.current_node
    for _ in range(max_steps):
        if node in graph.operators:
            if not operate(node):
                break
        elif node in graph.jobs:
            current_names[node] = project.run_job(node, job_options(node))
        else:
            raise AssertionError(f"node {node!r} is neither a job nor an operator")
        node = next_node(node)
        if node == "undefined":
            break
    else:
        raise AssertionError("the graph did not stop")
    return Graph(graph.name, node, floats, bools, strings, graph.operators, graph.jobs, graph.edges)


def expected_rounds(fractions: list[float], threshold: float, max_rounds: int) -> int:
    """The stop rule: the first round that rejects under ``threshold``, or ``max_rounds``."""
    for number, fraction in enumerate(fractions, start=1):
        if fraction < threshold or number >= max_rounds:
            return number
    raise AssertionError("not enough rounds given")


FLOWS = [
    ([0.40, 0.12, 0.03, 0.02], 3),  # stops by the rule in round 3
    ([0.40, 0.12, 0.08, 0.06, 0.06, 0.06], 4),  # stops after max_rounds (4)
    ([0.01], 1),  # a clean input: one round only
]


@pytest.mark.parametrize("kind, directory", [("Schedule", SCHEDULE), ("Scheme", SCHEME)])
@pytest.mark.parametrize("fractions, rounds", FLOWS)
def test_graph_loops_until_the_stop_rule_then_initial_model(kind, directory, fractions, rounds):
    graph = read_graph(directory, kind)
    graph.strings["current_particles" if kind == "Schedule" else "input_particles"] = "Input/particles.star"
    threshold, max_rounds = graph.floats["min_reject_fraction"], int(graph.floats["max_rounds"])
    assert (threshold, max_rounds) == (0.05, 4)
    assert expected_rounds(fractions, threshold, max_rounds) == rounds
    project = FakeProject(1000, fractions)
    final = run_graph(graph, project)

    assert [node for node, _, _ in project.log] == ["class2d", "cryodiscovery"] * rounds + ["inimodel"]
    assert final.floats["round"] == rounds
    assert final.bools["stop_cleaning"]
    assert final.bools["converged"] == (fractions[rounds - 1] < threshold)
    # each job reads what the previous one wrote
    previous = "Input/particles.star"
    for r in range(rounds):
        (_, class2d_dir, class2d_in), (_, external_dir, external_in) = project.log[2 * r:2 * r + 2]
        assert class2d_in == previous
        last_iteration = project.class2d_files - 1
        assert external_in == f"{class2d_dir}run_it{last_iteration:03d}_data.star"
        previous = f"{external_dir}particles.star"
    assert project.log[-1][2] == previous  # InitialModel gets the last selection
    n_in = project.files[project.log[2 * rounds - 1][2]]
    assert final.floats["reject_fraction"] == pytest.approx(1 - project.files[previous] / n_in)


# --------------------------------------------------------------------------------------------
# The RELION 4.0/5.0 Scheme's format (not run: no RELION 4/5 binaries here)
# --------------------------------------------------------------------------------------------

#: Block -> columns, in the order RELION 4.0.2/5.0.1 write them (Scheme::write; labels from
#: src/metadata_label.h, identical in both).
SCHEME_BLOCKS = {
    "scheme_general": ["rlnSchemeName", "rlnSchemeCurrentNodeName"],
    "scheme_floats": ["rlnSchemeFloatVariableName", "rlnSchemeFloatVariableValue",
                      "rlnSchemeFloatVariableResetValue"],
    "scheme_bools": ["rlnSchemeBooleanVariableName", "rlnSchemeBooleanVariableValue",
                     "rlnSchemeBooleanVariableResetValue"],
    "scheme_strings": ["rlnSchemeStringVariableName", "rlnSchemeStringVariableValue",
                       "rlnSchemeStringVariableResetValue"],
    "scheme_operators": ["rlnSchemeOperatorName", "rlnSchemeOperatorType", "rlnSchemeOperatorOutput",
                         "rlnSchemeOperatorInput1", "rlnSchemeOperatorInput2"],
    "scheme_jobs": ["rlnSchemeJobNameOriginal", "rlnSchemeJobName", "rlnSchemeJobMode",
                    "rlnSchemeJobHasStarted"],
    "scheme_edges": ["rlnSchemeEdgeInputNodeName", "rlnSchemeEdgeOutputNodeName", "rlnSchemeEdgeIsFork",
                     "rlnSchemeEdgeOutputNodeNameIfTrue", "rlnSchemeEdgeBooleanVariable"],
}

#: Operator type -> kinds of (output, input1, input2) that SchemerOperator::initialise requires
#: (f float variable, b bool, s string, n float variable or number, - anything / unused).
OPERATOR_SIGNATURES = {
    "bool=set": "bb-", "bool=and": "bbb", "bool=or": "bbb", "bool=not": "b--",
    "bool=gt": "b-n", "bool=lt": "b-n", "bool=ge": "b-n", "bool=le": "b-n", "bool=eq": "b-n",
    "bool=file_exists": "bs-", "bool=read_star": "bs-",
    "float=set": "ff-", "float=plus": "ffn", "float=minus": "ffn", "float=mult": "ffn", "float=divide": "ffn",
    "float=round": "ff-", "float=count_images": "fs-", "float=count_words": "fs-", "float=read_star": "fs-",
    "float=star_table_max": "fs-", "float=star_table_min": "fs-", "float=star_table_avg": "fs-",
    "float=star_table_sort_idx": "fsn",
    "string=set": "ss-", "string=join": "sss", "string=before_first": "sss", "string=after_first": "sss",
    "string=before_last": "sss", "string=after_last": "sss", "string=read_star": "ss-", "string=glob": "ss-",
    "string=nth_word": "ssn",
    "touch_file": "-s-", "copy_file": "-ss", "move_file": "-ss", "delete_file": "-s-",
    "wait": "---", "email": "---", "exit_maxtime": "-f-", "exit": "---",
}
#: Job options that RELION 4/5 show as sliders (numbers) or Yes/No: a $$ variable must match.
NUMBER_OPTIONS = {"nr_classes", "nr_iter", "nr_iter_em", "nr_iter_grad", "particle_diameter", "nr_threads",
                  "nr_mpi"}
BOOLEAN_OPTIONS = {"use_gpu"}


def _kind(graph: Graph, name: str) -> str:
    for kind, variables in (("f", graph.floats), ("b", graph.bools), ("s", graph.strings)):
        if name in variables:
            return kind
    return "?"


def test_scheme_blocks_and_labels_are_relion_4_and_5s():
    star = starfile.read(SCHEME / "scheme.star", always_dict=True)
    assert list(star) == list(SCHEME_BLOCKS)
    for block, columns in SCHEME_BLOCKS.items():
        found = list(star[block]) if isinstance(star[block], dict) else list(star[block].columns)
        assert found == columns, block
    assert star["scheme_general"]["rlnSchemeName"] == "Schemes/clean2d/"
    names = [n for block in ("scheme_floats", "scheme_bools", "scheme_strings")
             for n in star[block].iloc[:, 0]]
    assert len(names) == len(set(names)), "a variable is defined twice"


def test_scheme_operators_edges_and_jobs_are_consistent():
    graph = read_graph(SCHEME, "Scheme")
    for name, (kind, out, in1, in2) in graph.operators.items():
        assert kind in OPERATOR_SIGNATURES, (name, kind)
        for need, variable in zip(OPERATOR_SIGNATURES[kind], (out, in1, in2)):
            if need == "n":
                assert _kind(graph, variable) == "f" or re.fullmatch(r"-?[0-9.]+", variable), (name, variable)
            elif need != "-":
                assert _kind(graph, variable) == need, (name, variable, need)
        if OPERATOR_SIGNATURES[kind][2] == "n":
            # allowed by initialise(), but performOperation() reads input2 only from a float variable:
            # a literal number counts as 0
            assert _kind(graph, in2) == "f", (name, in2)

    nodes = set(graph.operators) | set(graph.jobs)
    sources = [edge[0] for edge in graph.edges]
    assert len(sources) == len(set(sources)), "relion_schemer allows one edge or fork per input node"
    for source, target, is_fork, if_true, flag in graph.edges:
        assert source in nodes and target in nodes, (source, target)
        if is_fork:
            assert if_true in nodes and flag in graph.bools, (if_true, flag)
        else:
            assert (if_true, flag) == ("undefined", "undefined")
    assert graph.current_node == graph.edges[0][0]  # where Scheme::reset puts it
    reachable, todo = set(), [graph.current_node]
    while todo:
        node = todo.pop()
        if node not in reachable:
            reachable.add(node)
            for source, target, is_fork, if_true, _ in graph.edges:
                if source == node:
                    todo += [target, if_true] if is_fork else [target]
    assert reachable == nodes
    assert graph.operators["EXIT"][0] == "exit"

    assert graph.job_types == {"class2d": "relion.class2d", "cryodiscovery": "relion.external",
                               "inimodel": "relion.initialmodel"}
    assert {mode for _, mode in graph.jobs.values()} == {"new"}
    assert all(current == original for original, (current, _) in graph.jobs.items())
    for job, options in graph.job_options.items():
        for option, value in options.items():
            for variable in re.findall(r"\$\$(\S+)", value):
                kind = _kind(graph, variable)
                assert kind != "?", (job, option, variable)
                if option in NUMBER_OPTIONS:
                    assert kind == "f", (job, option, variable)
                if option in BOOLEAN_OPTIONS or option.startswith("do_"):
                    assert kind == "b", (job, option, variable)
                else:
                    assert kind != "b", (job, option, variable)

    # the External job runs CryoDiscovery on the last iteration of this round's Class2D
    external = graph.job_options["cryodiscovery"]
    assert external["fn_exe"] == "$$cryodiscovery_exe"
    assert graph.strings["cryodiscovery_exe"] == "cryodiscovery_select"
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^cryodiscovery_select\s*=\s*"relion_external\.cryodiscovery_select:main"', pyproject,
                     re.M)
    assert external["in_part"] == "$$class2d_data"
    assert graph.strings["class2d_data_pattern"] == "Schemes/clean2d/class2d/run_it*_data.star"
    assert graph.strings["selected_particles"] == "Schemes/clean2d/cryodiscovery/particles.star"
    assert graph.job_options["class2d"]["fn_img"] == "$$current_particles"
    assert graph.job_options["inimodel"]["fn_img"] == "$$current_particles"


def test_scheme_doc_names_the_test_that_runs_it():
    text = (REPO / "schedules" / "relion45_clean2d" / "README.md").read_text()
    assert "test_relion45_binaries.py::test_scheme_runs_cleaning_rounds_then_initial_model" in text
    assert "test_scheme_runs_cleaning_rounds_then_initial_model" in (REPO / "tests" / "test_relion45_binaries.py").read_text()


# --------------------------------------------------------------------------------------------
# The RELION 3.1 Schedule, run by Debian's relion_scheduler
# --------------------------------------------------------------------------------------------

needs_scheduler = pytest.mark.skipif(shutil.which("relion_scheduler") is None,
                                     reason="Debian's RELION 3.1 (relion_scheduler) is not installed")


@requires_relion
@needs_scheduler
@pytest.mark.relion
def test_shipped_schedule_is_what_the_build_script_makes(tmp_path):
    out = tmp_path / "clean2d"
    subprocess.run(["bash", str(BUILD_SCRIPT), str(out)], check=True, capture_output=True, timeout=300)
    shipped = sorted(p.relative_to(SCHEDULE) for p in SCHEDULE.rglob("*") if p.is_file())
    built = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert shipped == built
    for name in shipped:
        assert (SCHEDULE / name).read_bytes() == (out / name).read_bytes(), name


def scheduler(project: Path, *args: str) -> None:
    subprocess.run(["relion_scheduler", "--schedule", "clean2d", *args], cwd=project, check=True,
                   capture_output=True, timeout=120)


def set_job_options(job_star: Path, values: dict[str, str]) -> None:
    """Change option values in a job.star (as the GUI's scheduling mode would); each must exist."""
    lines = job_star.read_text().splitlines()
    for key, value in values.items():
        hits = [i for i, line in enumerate(lines) if line.split()[:1] == [key]]
        assert len(hits) == 1, key
        lines[hits[0]] = f'{key} "{value}"' if " " in value else f"{key} {value}"
    job_star.write_text("\n".join(lines) + "\n")


def particle_count(path: Path) -> int:
    return len(starfile.read(path, always_dict=True)["particles"])


@requires_relion
@needs_scheduler
@pytest.mark.relion
@pytest.mark.slow
def test_schedule_runs_cleaning_rounds_until_the_rule_then_initial_model(tmp_path):
    exe_dir = select_command_dir()
    project = new_project_with_particles(tmp_path)
    shutil.copytree(SCHEDULE, project / "Schedules" / "clean2d")
    for name, value in {"current_particles": "Simulated/particles.star", "particle_diameter": "130",
                        "class2d_classes": "6", "class2d_iter": "5", "threads": "2"}.items():
        scheduler(project, "--set_var", name, "--value", value, "--original_value", value)
    # tiny sampling so that a round takes about a minute on 2 cores (InitialModel: SGD kept at 35-40 A, where
    # the angular sampling stays coarse; at its default 15 A one iteration took ~6 min); fixed seeds
    set_job_options(project / "Schedules/clean2d/class2d/job.star",
                    {"psi_sampling": "10", "offset_range": "3", "do_preread_images": "Yes",
                     "other_args": "--random_seed 1"})
    set_job_options(project / "Schedules/clean2d/inimodel/job.star",
                    {"sgd_ini_iter": "5", "sgd_inbetween_iter": "5", "sgd_fin_iter": "5",
                     "sgd_write_iter": "5", "sgd_ini_subset_size": "100", "sgd_fin_subset_size": "200",
                     "sgd_ini_resol": "40", "sgd_fin_resol": "35", "sampling": "30 degrees",
                     "other_args": "--random_seed 1"})

    env = dict(os.environ, PATH=f"{exe_dir}{os.pathsep}{os.environ['PATH']}")
    log = project / "Schedules/clean2d/run.out"
    with log.open("w") as out:
        runner = subprocess.Popen(
            ["relion_scheduler", "--schedule", "clean2d", "--run",
             "--pipeline_control", "Schedules/clean2d/"],
            cwd=project, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            assert runner.wait(timeout=3600) == 0, log.read_text()
        finally:
            if runner.poll() is None:
                os.killpg(runner.pid, signal.SIGKILL)  # the scheduler and the jobs it started
    text = log.read_text()
    assert "The schedule has reached an exit point" in text, text

    pipeline = starfile.read(project / "default_pipeline.star", always_dict=True)
    processes = pipeline["pipeline_processes"]
    status = dict(zip(processes["rlnPipeLineProcessName"], processes["rlnPipeLineProcessStatus"]))
    assert set(status.values()) == {2}, status  # every job finished
    class2d = sorted(p for p in status if p.startswith("Class2D/"))
    external = sorted(p for p in status if p.startswith("External/"))
    inimodel = [p for p in status if p.startswith("InitialModel/")]
    assert len(class2d) == len(external) >= 1 and len(inimodel) == 1

    # the rounds, measured from the files the jobs wrote
    final = read_graph(project / "Schedules/clean2d", "Schedule")
    threshold, max_rounds = final.floats["min_reject_fraction"], int(final.floats["max_rounds"])
    fractions, source = [], "Simulated/particles.star"
    edges = set(zip(pipeline["pipeline_input_edges"]["rlnPipeLineEdgeFromNode"],
                    pipeline["pipeline_input_edges"]["rlnPipeLineEdgeProcess"]))
    for class2d_job, external_job in zip(class2d, external):
        data = f"{class2d_job}run_it005_data.star"
        assert (source, class2d_job) in edges  # Class2D of round r reads round r-1's selection
        assert (data, external_job) in edges  # CryoDiscovery reads the last iteration of that Class2D
        n_in = particle_count(project / data)
        n_kept = particle_count(project / external_job / "particles.star")
        assert n_in == particle_count(project / source)
        fractions.append(1 - n_kept / n_in)
        source = f"{external_job}particles.star"
    assert (source, inimodel[0]) in edges  # InitialModel gets the last selection
    assert list((project / inimodel[0]).glob("run_it*_class001.mrc"))

    rounds = expected_rounds(fractions, threshold, max_rounds)
    assert len(class2d) == rounds, fractions
    assert final.floats["round"] == rounds
    assert final.bools["stop_cleaning"]
    assert final.bools["converged"] == (fractions[-1] < threshold)
    assert final.floats["reject_fraction"] == pytest.approx(fractions[-1], abs=1e-6)
    # the example is 35% junk: the first round must reject more than the threshold and loop back
    assert fractions[0] > threshold and rounds >= 2, fractions
    print("reject fractions per round:", [round(f, 4) for f in fractions])
