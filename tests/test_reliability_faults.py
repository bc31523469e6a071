"""Faults while the job runs (issue 6.2-6.4): SIGKILL at each phase of a run, RELION's abort at every
stage, deterministic reruns (the rerun after the kills), and two jobs on the same input at once.

Every run here is a separate process started the way RELION starts it (the External executable,
cwd = the project). Where a run is killed or aborted is chosen by patching one function of the job to
signal when it is reached, so each test run exercises the same, named phases. How fast an abort ends a
job is measured by ``benchmarks/abort_latency.py``, not asserted here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cryodiscovery_dev import abort_stages

from relion_cryodiscovery.model.runtime import RUNTIME_ENV
from relion_cryodiscovery.relion.sentinels import ABORT_NOW, ABORTED, FAILURE, STAGING_PREFIX, SUCCESS

REPO = Path(__file__).resolve().parents[1]
EXE = REPO / "relion_external" / "cryodiscovery_select.py"
DATA = "Class2D/job001/run_it025_data.star"
MARKERS = {SUCCESS, FAILURE, ABORTED, ABORT_NOW}
#: Lines that legitimately differ between runs (provenance).
VOLATILE = ("_cdiDate", "_cdiCommandLine", '"date":', '"command_line":')


@pytest.fixture(scope="module")
def project(session_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project for this module; each test uses its own External/jobNNN."""
    target = tmp_path_factory.mktemp("faults") / "proj"
    shutil.copytree(session_corpus / "sim0000", target)
    return target


def command(out: str, model: Path, *extra: str) -> list[str]:
    return [sys.executable, str(EXE), "--o", out, "--in_parts", DATA, "--model", str(model), "--min_classes", "2",
            "--j", "1", *extra]


def start(project: Path, out: str, model: Path, *extra: str, exe: list[str] | None = None) -> subprocess.Popen:
    """Start the External job as RELION does (stdout/stderr appended to run.out/run.err)."""
    job = project / out
    job.mkdir(parents=True, exist_ok=True)
    stdout = open(job / "run.out", "a")
    stderr = open(job / "run.err", "a")
    env = dict(os.environ)
    env.setdefault(RUNTIME_ENV, "onnx")  # the CPU's runtime, whatever the machine, unless a test says otherwise
    process = subprocess.Popen(exe or command(out, model, *extra), cwd=project, stdout=stdout, stderr=stderr,
                               stdin=subprocess.DEVNULL, env=env)
    stdout.close()
    stderr.close()
    return process


def outputs(job: Path) -> dict[str, bytes]:
    """The job's output files (not markers, logs or staging), provenance lines removed."""
    found = {}
    for path in sorted(job.iterdir()):
        if path.is_file() and path.name not in MARKERS and path.name not in ("run.out", "run.err"):
            data = path.read_bytes()
            if path.suffix in (".star", ".json"):
                data = b"\n".join(line for line in data.split(b"\n") if not line.decode().strip().startswith(VOLATILE))
            found[path.name] = data
    return found


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and not str(p.relative_to(directory)).startswith("External")}


@pytest.fixture(scope="module")
def reference(project: Path, session_tiny_model: Path) -> dict[str, bytes]:
    """Outputs of one complete run into External/job010/ (what every run there must produce)."""
    process = start(project, "External/job010/", session_tiny_model)
    assert process.wait(timeout=120) == 0
    job = project / "External/job010"
    assert (job / SUCCESS).exists()
    return outputs(job)


# --------------------------------------------------------------------------- 6.2 SIGKILL

#: Where a run stops to be killed, in the order of a run: (phase, how the wrapper stops there). ``before:`` /
#: ``after:`` a function of the job; ``renames:N`` after the N-th output is renamed from staging into the job
#: directory (``-1``: all but the last, the nodes file); ``success:`` before or after the success marker.
KILL_PHASES = [
    ("reading the job", "before:relion_cryodiscovery.relion.job.read_job"),
    ("preprocessing", "before:relion_cryodiscovery.data.inputs.model_inputs"),
    ("model loading", "before:relion_cryodiscovery.model.onnx_members._session"),
    ("inference", "before:relion_cryodiscovery.model.vote.class_means"),
    ("particles.star staged, nothing committed", "after:relion_cryodiscovery.relion.outputs.write_particles"),
    ("commit, first output renamed", "renames:1"),
    ("commit, all but the nodes file renamed", "renames:-1"),
    ("commit done, no success marker yet", "success:before"),
    ("success marker written", "success:after"),
]

KILL_WRAPPER = textwrap.dedent('''
    """Run the External job and stop at one phase (for the SIGKILL test): touch the flag, then wait for ever."""
    import importlib, os, sys, time
    from pathlib import Path

    where, flag = sys.argv[1], Path(sys.argv[2])
    kind, _, rest = where.partition(":")

    def stop_here():
        flag.touch()
        while True:
            time.sleep(60)

    if kind in ("before", "after"):
        module_name, attribute = rest.rsplit(".", 1)
        module = importlib.import_module(module_name)
        original = getattr(module, attribute)

        def patched(*args, **kwargs):
            if kind == "before":
                stop_here()
            original(*args, **kwargs)
            stop_here()

        setattr(module, attribute, patched)
    elif kind == "renames":
        from relion_cryodiscovery.relion.sentinels import STAGING_PREFIX
        renamed, replace = [0], os.replace

        def counted(src, dst, *args, **kwargs):
            replace(src, dst, *args, **kwargs)
            if Path(src).parent.name.startswith(STAGING_PREFIX):
                renamed[0] += 1
                if renamed[0] == int(rest):
                    stop_here()

        os.replace = counted
    elif kind == "success":
        from relion_cryodiscovery.relion import sentinels
        original = sentinels.touch

        def touch(path):
            success = Path(path).name == sentinels.SUCCESS
            if success and rest == "before":
                stop_here()
            original(path)
            if success:
                stop_here()

        sentinels.touch = touch
    else:
        raise SystemExit(f"unknown phase {where}")
    from relion_cryodiscovery.cli.main import run_command
    sys.exit(run_command("select", sys.argv[3:], prog="cryodiscovery_select"))
''')


def _wait_for(flag: Path, process: subprocess.Popen, job: Path, what: str) -> None:
    """Block until ``flag`` exists; fail if the run ends first."""
    try:
        abort_stages.wait_until_started(flag, process, what, run_err=job / "run.err")
    except RuntimeError as error:
        pytest.fail(str(error))


def test_sigkill_at_every_phase_never_leaves_a_truncated_output(
    project: Path, session_tiny_model: Path, reference: dict[str, bytes], tmp_path: Path
) -> None:
    """Kill -9 at each phase of :data:`KILL_PHASES` in turn, in one job directory that starts empty.

    A kill survives when the directory is in a state RELION can trust: every output present is
    byte-identical to the reference (never truncated), no FAILURE/ABORTED marker, SUCCESS only after
    the commit and then with every output, and exactly the outputs the phase has committed (none before
    the commit, 1 after the first rename, all but the nodes file, then all), and no staging of an earlier
    killed run (each run removes it; a run killed while writing leaves its own). Then a rerun succeeds,
    overwrites cleanly and gives the reference bytes.
    """
    out = "External/job010/"
    job = project / out
    shutil.rmtree(job)  # the reference is in memory; the kills start from an empty directory
    wrapper = tmp_path / "stop_at_phase.py"
    wrapper.write_text(KILL_WRAPPER)
    n_outputs = len(reference)
    committed = {"renames:1": 1, "renames:-1": n_outputs - 1, "success:before": n_outputs, "success:after": n_outputs}
    before = snapshot(project)
    survived, failures = [], []
    for i, (phase, where) in enumerate(KILL_PHASES):
        flag = tmp_path / f"phase_{i}"
        where = where.replace("renames:-1", f"renames:{n_outputs - 1}")
        process = start(project, out, session_tiny_model,
                        exe=[sys.executable, str(wrapper), where, str(flag), *command(out, session_tiny_model)[2:]])
        try:
            _wait_for(flag, process, job, phase)
        finally:
            process.send_signal(signal.SIGKILL)
            code = process.wait(timeout=60)
        assert code == -signal.SIGKILL, f"{phase}: the run was not killed (exit {code})"
        present = outputs(job)
        success = (job / SUCCESS).exists()
        expected = committed.get(KILL_PHASES[i][1], 0)
        problems = [f"{name} differs from a complete output" for name, data in present.items()
                    if data != reference.get(name)]
        problems += [f"{marker} present" for marker in (FAILURE, ABORTED) if (job / marker).exists()]
        if success != (phase == "success marker written"):
            problems.append(f"SUCCESS {'present' if success else 'missing'}")
        if len(present) != expected:
            problems.append(f"{len(present)} outputs in place, expected {expected}: {sorted(present)}")
        own = f"{STAGING_PREFIX}{process.pid}"
        left = sorted(path.name for path in job.glob(".cryodiscovery_*") if path.name != own)
        if left:  # each run removes the staging of the runs killed before it
            problems.append(f"staging of earlier runs left: {left}")
        if where.startswith(("after:", "renames:")) and not (job / own).is_dir():
            problems.append("killed while writing, yet no staging directory")  # so the next run has one to remove
        if problems:
            failures.append(f"{phase}: {'; '.join(problems)}")
        else:
            survived.append(phase)
    assert survived == [phase for phase, _ in KILL_PHASES], failures
    process = start(project, out, session_tiny_model)
    assert process.wait(timeout=300) == 0
    assert (job / SUCCESS).exists() and not (job / FAILURE).exists()
    rerun = outputs(job)  # determinism: the same bytes as the reference run, montage included
    assert rerun.keys() == reference.keys() and "cryodiscovery_montage.png" in rerun
    for name in reference:
        assert rerun[name] == reference[name], name
    assert not list(job.glob(".cryodiscovery_*")), "a rerun must remove staging left by killed runs"
    assert snapshot(project) == before


# --------------------------------------------------------------------------- 6.3 abort at every stage

@pytest.mark.parametrize("stage", list(abort_stages.STAGES))
def test_abort_interrupts_every_stage(stage: str, project: Path, session_tiny_model: Path,
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job held in one stage of :data:`cryodiscovery_dev.abort_stages.STAGES` (its real work repeated for
    a minute, on the stage's runtime) and aborted 0.5 s into it ends aborted, early and with nothing written."""
    monkeypatch.setenv(RUNTIME_ENV, abort_stages.STAGES[stage][2])
    flag = tmp_path / "stage_started"
    out = "External/job020/"
    job = project / out
    shutil.rmtree(job, ignore_errors=True)
    process = start(project, out, session_tiny_model,
                    exe=abort_stages.command(stage, flag, command(out, session_tiny_model)[2:]))
    _wait_for(flag, process, job, f"stage {stage}")
    time.sleep(0.5)  # well inside the stage
    assert process.poll() is None
    (job / ABORT_NOW).touch()
    code = process.wait(timeout=300)  # a bound on a hung test, not a speed requirement
    # The stage repeats its work for a minute: had the abort not interrupted it, it would have said so.
    assert not abort_stages.finished_flag(flag).exists(), f"the abort did not interrupt {stage}"
    assert code == 2
    assert (job / ABORTED).exists() and not (job / ABORT_NOW).exists()
    assert not (job / SUCCESS).exists() and not (job / FAILURE).exists()
    assert outputs(job) == {}, "an aborted run leaves no outputs"
    assert not list(job.glob(".cryodiscovery_*"))
    assert "Aborted: RELION_JOB_ABORT_NOW found" in (job / "run.out").read_text()


# --------------------------------------------------------------------------- 6.4 determinism, concurrency


def test_two_jobs_on_the_same_input_at_once(project: Path, session_tiny_model: Path,
                                            reference: dict[str, bytes]) -> None:
    """Two concurrent runs on one input: both succeed, neither disturbs the other, both equal a lone run."""
    before = snapshot(project)
    for number in ("011", "012"):
        shutil.rmtree(project / f"External/job{number}", ignore_errors=True)
    first = start(project, "External/job011/", session_tiny_model)
    second = start(project, "External/job012/", session_tiny_model)
    assert first.wait(timeout=180) == 0 and second.wait(timeout=180) == 0
    for number in ("011", "012"):
        job = project / f"External/job{number}"
        assert (job / SUCCESS).exists()
        got = {name: data.replace(f"External/job{number}/".encode(), b"External/job010/")
               for name, data in outputs(job).items()}
        assert got == reference, f"job{number} differs from the lone run"
        assert not list(job.glob(".cryodiscovery_*"))
    assert snapshot(project) == before
