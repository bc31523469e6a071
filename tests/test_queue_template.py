"""The SLURM queue template for the External job (docs/slurm/cryodiscovery_gpu.sh).

RELION turns the template into ``External/jobNNN/run_submit.script`` and runs ``sbatch`` on it.
:func:`relion_submission_script` does what RELION 3.1's ``RelionJob::saveJobSubmissionScript``
does (3.1.3 ``src/pipeline_jobs.cpp`` L508-616): every ``XXX<name>XXX`` word of its table is
replaced on every line, and a line holding ``XXXcommandXXX`` gets the command in place of that
word only when the command contains ``relion_`` (External jobs have one process) -- otherwise
the whole line becomes the bare command. Where Debian's RELION 3.1 is installed, its own
``relion_pipeliner`` writes the script and the two are compared byte for byte.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import requires_relion

TEMPLATE = Path(__file__).resolve().parents[1] / "docs" / "slurm" / "cryodiscovery_gpu.sh"
#: Every word RELION 3.1 replaces (XXXextraNXXX only for the N its environment defines).
RELION_WORDS = {"XXXcommandXXX", "XXXmpinodesXXX", "XXXthreadsXXX", "XXXcoresXXX", "XXXdedicatedXXX",
                "XXXnodesXXX", "XXXnameXXX", "XXXerrfileXXX", "XXXoutfileXXX", "XXXqueueXXX"}
EXTRAS = {1: "2", 2: "0-02:00:00"}  # as set by RELION_QSUB_EXTRA1/2(_DEFAULT) or in the GUI


def external_command(fn_exe: str, outputname: str, in_parts: str, threads: int, other_args: str = "") -> str:
    """RELION 3.1's External command (getCommandsExternalJob) as prepareFinalCommand queues it."""
    command = f"{fn_exe} --o {outputname} --in_parts {in_parts} --j {threads} {other_args}"
    if "relion_" in command:
        command += f" --pipeline_control {outputname}"
    return command


def relion_submission_script(template: str, command: str, outputname: str, queue: str, threads: int,
                             min_dedicated: int = 1, extras: dict[int, str] | None = None,
                             extra_count: int = 2) -> str:
    """``run_submit.script`` as RELION 3.1 writes it for a one-process (External) job."""
    mpi = 1
    cores = mpi * threads
    replacing = {
        "XXXmpinodesXXX": str(mpi), "XXXthreadsXXX": str(threads), "XXXcoresXXX": str(cores),
        "XXXdedicatedXXX": str(min_dedicated), "XXXnodesXXX": str(-(-cores // min_dedicated)),
        "XXXnameXXX": outputname, "XXXerrfileXXX": outputname + "run.err",
        "XXXoutfileXXX": outputname + "run.out", "XXXqueueXXX": queue,
    }
    for number, value in (extras or {}).items():
        if number <= extra_count:
            replacing[f"XXXextra{number}XXX"] = value
    lines = []
    for line in template.split("\n")[: -1 if template.endswith("\n") else None]:
        for word in sorted(replacing):  # std::map order; the values hold no XXX words
            line = line.replace(word, replacing[word])
        if "XXXcommandXXX" in line:
            line = line.replace("XXXcommandXXX", command, 1) if "relion_" in command else command
        lines.append(line + "\n")
    return "".join(lines) + "\n"


def _render(command: str = "/opt/cryodiscovery/.venv/bin/cryodiscovery_select --o External/job012/ "
                           "--in_parts Class2D/job010/run_it025_data.star --j 4 ",
            extras: dict[int, str] | None = EXTRAS) -> str:
    return relion_submission_script(TEMPLATE.read_text(), command, "External/job012/", "gpu", 4, extras=extras)


def _bash_syntax_ok(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "run_submit.script"
    path.write_text(script)
    return subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)


def test_template_uses_relion_words_only_and_puts_the_command_on_its_own_line() -> None:
    text = TEMPLATE.read_text()
    words = set(re.findall(r"XXX\w+?XXX", text))
    assert words == {"XXXcommandXXX", "XXXoutfileXXX", "XXXerrfileXXX", "XXXqueueXXX", "XXXmpinodesXXX",
                     "XXXthreadsXXX", "XXXnameXXX", "XXXextra1XXX", "XXXextra2XXX"}
    assert words - {"XXXextra1XXX", "XXXextra2XXX"} <= RELION_WORDS  # no misspelt word survives
    lines = text.splitlines()
    assert [line for line in lines if "XXXcommandXXX" in line] == ["XXXcommandXXX"]
    assert lines[0] == "#!/bin/bash"
    # sbatch reads #SBATCH lines only up to the first command.
    first_command = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    directives = [i for i, line in enumerate(lines) if line.startswith("#SBATCH")]
    assert directives and max(directives) < first_command
    for option in ("--output=XXXoutfileXXX", "--error=XXXerrfileXXX", "--partition=XXXqueueXXX",
                   "--ntasks=XXXmpinodesXXX", "--cpus-per-task=XXXthreadsXXX", "--gres=gpu:XXXextra1XXX",
                   "--time=XXXextra2XXX", "--nodes=1"):
        assert f"#SBATCH {option}" in lines


@pytest.mark.parametrize("fn_exe", ["/opt/cryodiscovery/.venv/bin/cryodiscovery_select",
                                    "/opt/relion_tools/cryodiscovery_select"])
def test_substituted_template_is_a_valid_bash_script(fn_exe: str, tmp_path) -> None:
    command = external_command(fn_exe, "External/job012/", "Class2D/job010/run_it025_data.star", 4)
    script = _render(command)
    assert not re.search(r"XXX\w+?XXX", script), re.findall(r"XXX\w+?XXX", script)
    lines = script.splitlines()
    assert command in lines  # alone on its line, whether or not the path holds "relion_"
    for directive in ("--job-name=External/job012/", "--partition=gpu", "--ntasks=1", "--cpus-per-task=4",
                      "--gres=gpu:2", "--time=0-02:00:00", "--output=External/job012/run.out",
                      "--error=External/job012/run.err"):
        assert f"#SBATCH {directive}" in lines
    checked = _bash_syntax_ok(script, tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_without_the_extra_variables_only_the_extra_words_remain(tmp_path) -> None:
    """RELION leaves XXXextraNXXX as is when RELION_QSUB_EXTRAn is not set (sbatch then refuses)."""
    script = _render(extras=None)
    assert set(re.findall(r"XXX\w+?XXX", script)) == {"XXXextra1XXX", "XXXextra2XXX"}
    assert [line for line in script.splitlines() if "XXXextra" in line] == [
        "#SBATCH --gres=gpu:XXXextra1XXX", "#SBATCH --time=XXXextra2XXX"]
    checked = _bash_syntax_ok(script, tmp_path)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(("program", "status", "markers", "fallback"), [
    ('touch "$1/RELION_JOB_EXIT_SUCCESS"', 0, {"RELION_JOB_EXIT_SUCCESS"}, False),
    ('touch "$1/RELION_JOB_EXIT_FAILURE"; exit 1', 1, {"RELION_JOB_EXIT_FAILURE"}, False),
    ("exit 0", 0, {"RELION_JOB_EXIT_FAILURE"}, True),  # ended without a marker
    ("exit 3", 3, {"RELION_JOB_EXIT_FAILURE"}, True),  # crashed without a marker
])
def test_script_always_leaves_a_marker_file(program: str, status: int, markers: set[str], fallback: bool,
                                            tmp_path) -> None:
    """Run as the batch job would (from the project directory): RELION must never wait forever."""
    job = tmp_path / "External" / "job012"
    job.mkdir(parents=True)
    exe = tmp_path / "program.sh"
    exe.write_text(f"#!/bin/bash\n{program}\n")
    exe.chmod(0o755)
    script = relion_submission_script(TEMPLATE.read_text(), f"{exe} External/job012", "External/job012/", "gpu", 1,
                                      extras=EXTRAS)
    (job / "run_submit.script").write_text(script)
    done = subprocess.run(["bash", "External/job012/run_submit.script"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == status, done.stderr
    assert {p.name for p in job.iterdir() if p.name.startswith("RELION_JOB_")} == markers
    assert ("without a RELION marker file" in done.stderr) is fallback, done.stderr


def test_a_missing_program_fails_the_job(tmp_path) -> None:
    (tmp_path / "External" / "job012").mkdir(parents=True)
    script = relion_submission_script(TEMPLATE.read_text(), "/nonexistent/cryodiscovery_select --o External/job012/",
                                      "External/job012/", "gpu", 1, extras=EXTRAS)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 127
    assert (tmp_path / "External" / "job012" / "RELION_JOB_EXIT_FAILURE").exists()


@requires_relion
@pytest.mark.relion
@pytest.mark.parametrize(("fn_exe", "extras"), [("/opt/cryodiscovery/.venv/bin/cryodiscovery_select", True),
                                                ("/opt/relion_tools/cryodiscovery_select", True),
                                                ("/opt/cryodiscovery/.venv/bin/cryodiscovery_select", False)])
def test_relion_pipeliner_writes_the_same_script(fn_exe: str, extras: bool, tmp_path) -> None:
    """RELION 3.1 itself: scheduling a queued External job writes run_submit.script (nothing is submitted)."""
    (tmp_path / "default_pipeline.star").write_text("data_pipeline_general\n\n_rlnPipeLineJobCounter 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELION_QSUB")}
    if extras:
        env.update(RELION_QSUB_EXTRA_COUNT="2", RELION_QSUB_EXTRA1="Number of GPUs:",
                   RELION_QSUB_EXTRA1_DEFAULT=EXTRAS[1], RELION_QSUB_EXTRA2="Time limit:",
                   RELION_QSUB_EXTRA2_DEFAULT=EXTRAS[2])
    options = (f"fn_exe == {fn_exe};in_part == Class2D/job010/run_it025_data.star;nr_threads == 4;"
               f"do_queue == Yes;queuename == gpu;qsub == sbatch;qsubscript == {TEMPLATE};min_dedicated == 1;")
    done = subprocess.run([shutil.which("relion_pipeliner"), "--addJob", "External", "--addJobOptions", options],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    written = (tmp_path / "External" / "job001" / "run_submit.script").read_text()
    command = external_command(fn_exe, "External/job001/", "Class2D/job010/run_it025_data.star", 4)
    expected = relion_submission_script(TEMPLATE.read_text(), command, "External/job001/", "gpu", 4,
                                        extras=EXTRAS if extras else None)
    assert written == expected
