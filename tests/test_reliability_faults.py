"""Faults while the job runs (issue 6.2-6.4): SIGKILL at random points, RELION's abort at every
stage, deterministic reruns (the rerun after the kills), and two jobs on the same input at once.

Every run here is a separate process started the way RELION starts it (the External executable,
cwd = the project). ``CRYODISCOVERY_KILLS=N`` sets the number of SIGKILLs (default 6; the figure
in docs/reliability.md comes from a run with 100).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

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
    process = subprocess.Popen(exe or command(out, model, *extra), cwd=project, stdout=stdout, stderr=stderr,
                               stdin=subprocess.DEVNULL)
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


def _wait_for_writing(job: Path, process: subprocess.Popen, limit: float = 60.0) -> bool:
    """Block until the run stages particles.star (the write phase) or exits."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        if any(job.glob(f"{STAGING_PREFIX}*/particles.star")):
            return True
        time.sleep(0.005)
    return False


def test_sigkill_at_random_points_never_leaves_a_truncated_output(
    project: Path, session_tiny_model: Path, reference: dict[str, bytes]
) -> None:
    """Kill -9 at random times (half of them inside the write/commit phase), reusing one directory.

    After every kill: each output present is byte-identical to the reference (never truncated),
    and SUCCESS only exists if the run got past its commit. Then a rerun succeeds, overwrites
    cleanly and leaves no staging directory.
    """
    job = project / "External/job010"
    kills = int(os.environ.get("CRYODISCOVERY_KILLS", "6"))
    rng = random.Random(20261122)
    survived = 0
    before = snapshot(project)
    for i in range(kills):
        process = start(project, "External/job010/", session_tiny_model)
        if i % 2:
            _wait_for_writing(job, process)
            time.sleep(rng.uniform(0.0, 0.6))
        else:
            time.sleep(rng.uniform(0.2, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        present = outputs(job)
        for name, data in present.items():
            assert data == reference[name], f"kill {i}: {name} differs from a complete output"
        if (job / SUCCESS).exists():
            assert present.keys() == reference.keys(), f"kill {i}: SUCCESS without every output"
        survived += 1
    assert survived == kills
    process = start(project, "External/job010/", session_tiny_model)
    assert process.wait(timeout=120) == 0
    assert (job / SUCCESS).exists() and not (job / FAILURE).exists()
    rerun = outputs(job)  # determinism: the same bytes as the reference run, montage included
    assert rerun.keys() == reference.keys() and "cryodiscovery_montage.png" in rerun
    for name in reference:
        assert rerun[name] == reference[name], name
    assert not list(job.glob(".cryodiscovery_*")), "a rerun must remove staging left by killed runs"
    assert snapshot(project) == before
    print(f"kills survived: {survived}")


# --------------------------------------------------------------------------- 6.3 abort at every stage

#: Stage -> (module attribute to slow down, what is patched). The patched function signals that the
#: stage has started, then repeats the real work for a minute, so the abort lands inside that work
#: and only RELION_JOB_ABORT_NOW can end the run early.
#: The stages run on the CPU's runtime (ONNX Runtime) unless a third entry names another (model/runtime.py).
STAGES = {
    "read_job": ("relion_cryodiscovery.relion.job", "read_job"),
    "preprocess": ("relion_cryodiscovery.data.inputs", "model_inputs"),
    "model_loading": ("relion_cryodiscovery.model.onnx_members", "_session"),
    "inference": ("relion_cryodiscovery.model.vote", "class_means"),
    "model_loading_tensorflow": ("relion_cryodiscovery.model.ensemble", "load_member", "tensorflow"),
    "inference_tensorflow": ("relion_cryodiscovery.model.ensemble", "vote_predict", "tensorflow"),
    "writing": ("relion_cryodiscovery.relion.outputs", "write_particles"),
}

WRAPPER = textwrap.dedent('''
    """Run the External job with one stage repeated for a minute (for the abort test)."""
    import importlib, sys, time
    from pathlib import Path

    module_name, attribute, flag = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)

    def repeated(*args, **kwargs):
        flag.touch()
        end = time.monotonic() + 60
        while True:
            result = original(*args, **kwargs)
            if time.monotonic() > end:
                return result

    setattr(module, attribute, repeated)
    from relion_cryodiscovery.cli.main import run_command
    sys.exit(run_command("select", sys.argv[4:], prog="cryodiscovery_select"))
''')


@pytest.mark.parametrize("stage", list(STAGES))
def test_abort_interrupts_every_stage(stage: str, project: Path, session_tiny_model: Path,
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, attribute, *runtime = STAGES[stage]
    monkeypatch.setenv(RUNTIME_ENV, runtime[0] if runtime else "onnx")
    wrapper = tmp_path / "slow_stage.py"
    wrapper.write_text(WRAPPER)
    flag = tmp_path / "stage_started"
    out = "External/job020/"
    job = project / out
    shutil.rmtree(job, ignore_errors=True)
    process = start(project, out, session_tiny_model,
                    exe=[sys.executable, str(wrapper), module, attribute, str(flag), *command(out, session_tiny_model)[2:]])
    deadline = time.monotonic() + 90
    while not flag.exists():
        assert process.poll() is None, (job / "run.err").read_text()
        assert time.monotonic() < deadline, f"stage {stage} never started"
        time.sleep(0.01)
    time.sleep(0.5)  # well inside the stage
    assert process.poll() is None
    (job / ABORT_NOW).touch()
    touched = time.monotonic()
    code = process.wait(timeout=30)
    elapsed = time.monotonic() - touched
    print(f"abort during {stage}: process ended {elapsed:.2f} s after RELION_JOB_ABORT_NOW")
    # The stage repeats its work for a minute: ending within 10 s shows the abort interrupted it. How
    # fast it is (0.1-1.1 s here) is measured and documented in docs/reliability.md, not asserted.
    assert elapsed < 10.0, f"abort during {stage} took {elapsed:.2f} s"
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
