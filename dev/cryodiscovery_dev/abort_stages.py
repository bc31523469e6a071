"""The External job held in one named stage, so that RELION's abort lands inside it.

Used by ``tests/test_reliability_faults.py::test_abort_interrupts_every_stage`` (does the abort end each
stage, with the right markers and no outputs?) and ``benchmarks/abort_latency.py`` (how long it takes).
Both run this module as the External executable, the way RELION runs a job (cwd = the project)::

    python -m cryodiscovery_dev.abort_stages MODULE ATTRIBUTE FLAG  --o External/job020/ --in_parts ...

``MODULE.ATTRIBUTE`` is replaced by a function that touches ``FLAG`` when the stage starts, then repeats
the real work for a minute; had the abort not interrupted it, it touches ``FLAG.finished``
(:func:`finished_flag`) at the end of the minute. The remaining arguments are the select command's.
:func:`command` builds that command line for a stage of :data:`STAGES`, and :func:`wait_until_started`
waits for the flag.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from pathlib import Path

#: Stage -> (module, function repeated for a minute, runtime the job runs on: ``CRYODISCOVERY_RUNTIME``).
STAGES: dict[str, tuple[str, str, str]] = {
    "read_job": ("relion_cryodiscovery.relion.job", "read_job", "onnx"),
    "preprocess": ("relion_cryodiscovery.data.inputs", "model_inputs", "onnx"),
    "model_loading": ("relion_cryodiscovery.model.onnx_members", "_session", "onnx"),
    "inference": ("relion_cryodiscovery.model.vote", "class_means", "onnx"),
    "model_loading_tensorflow": ("relion_cryodiscovery.model.ensemble", "load_member", "tensorflow"),
    "inference_tensorflow": ("relion_cryodiscovery.model.ensemble", "vote_predict", "tensorflow"),
    "writing": ("relion_cryodiscovery.relion.outputs", "write_particles", "onnx"),
}

#: How long the held stage repeats its work, seconds.
HOLD_SECONDS = 60.0


def finished_flag(flag: Path) -> Path:
    """The file the held stage touches if it ran its whole minute (the abort did not interrupt it)."""
    return Path(str(flag) + ".finished")


def command(stage: str, flag: Path, select_args: list[str]) -> list[str]:
    """The command line of a select job (``select_args``) held in ``stage`` of :data:`STAGES`."""
    module, attribute, _ = STAGES[stage]
    return [sys.executable, "-m", "cryodiscovery_dev.abort_stages", module, attribute, str(flag), *select_args]


def wait_until_started(flag: Path, process: subprocess.Popen, what: str, run_err: Path | None = None,
                       limit: float = 300.0) -> None:
    """Block until ``flag`` exists.

    Raises:
        RuntimeError: the process ended first (with ``run_err``'s text, if given), or ``limit`` seconds
            passed (a bound on a hung run, not a speed requirement).
    """
    deadline = time.monotonic() + limit
    while not flag.exists():
        if process.poll() is not None:
            err = run_err.read_text() if run_err is not None and run_err.exists() else ""
            raise RuntimeError(f"the run ended (exit {process.returncode}) before {what}: {err}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not reached in {limit:.0f} s")
        time.sleep(0.01)


def hold(module_name: str, attribute: str, flag: Path, seconds: float = HOLD_SECONDS) -> None:
    """Replace ``module_name.attribute`` by the held stage (see the module docstring)."""
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)

    def repeated(*args, **kwargs):
        flag.touch()
        end = time.monotonic() + seconds
        while True:
            result = original(*args, **kwargs)
            if time.monotonic() > end:
                finished_flag(flag).touch()
                return result

    setattr(module, attribute, repeated)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    module_name, attribute, flag = argv[0], argv[1], Path(argv[2])
    hold(module_name, attribute, flag)
    from relion_cryodiscovery.cli.main import run_command

    return run_command("select", argv[3:], prog="cryodiscovery_select")


if __name__ == "__main__":
    sys.exit(main())
