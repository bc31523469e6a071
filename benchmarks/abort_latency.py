#!/usr/bin/env python3
"""How long the External job takes to end after RELION's ``RELION_JOB_ABORT_NOW``, at every stage.

    python benchmarks/abort_latency.py --repeat 4 [--out results.jsonl]

On a fresh copy of ``examples/class2d_small`` with the shipped model, as RELION runs it (the External
executable, cwd = the project), one stage at a time is patched to repeat its real work for a minute
and to say when it has started (what ``tests/test_reliability_faults.py::test_abort_interrupts_every_stage``
does, which checks the abort's outcome but asserts no time). ``RELION_JOB_ABORT_NOW`` is touched 0.5 s
after the stage starts; the figure is the wall time from then to the process's exit. Prints one line per
stage (min-max over the runs) and one JSON line (docs/reliability.md, section 3, shows the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ABORT_NOW, ABORTED = "RELION_JOB_ABORT_NOW", "RELION_JOB_EXIT_ABORTED"

#: Stage -> (module, function repeated for a minute, runtime).
STAGES = {
    "read_job": ("relion_cryodiscovery.relion.job", "read_job", "onnx"),
    "preprocess": ("relion_cryodiscovery.data.inputs", "model_inputs", "onnx"),
    "model_loading": ("relion_cryodiscovery.model.onnx_members", "_session", "onnx"),
    "inference": ("relion_cryodiscovery.model.vote", "class_means", "onnx"),
    "model_loading_tensorflow": ("relion_cryodiscovery.model.ensemble", "load_member", "tensorflow"),
    "inference_tensorflow": ("relion_cryodiscovery.model.ensemble", "vote_predict", "tensorflow"),
    "writing": ("relion_cryodiscovery.relion.outputs", "write_particles", "onnx"),
}

WRAPPER = textwrap.dedent('''
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


def abort_once(project: Path, data: str, wrapper: Path, stage: str, index: int) -> float:
    """Seconds from ``RELION_JOB_ABORT_NOW`` to the exit of a job held in ``stage``."""
    module, attribute, runtime = STAGES[stage]
    out = f"External/{stage}{index:03d}/"
    job = project / out
    job.mkdir(parents=True)
    flag = job.parent / f".{stage}{index:03d}_started"
    env = dict(os.environ, CRYODISCOVERY_RUNTIME=runtime,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with open(job / "run.out", "w") as stdout, open(job / "run.err", "w") as stderr:
        process = subprocess.Popen([sys.executable, str(wrapper), module, attribute, str(flag), "--o", out,
                                    "--in_parts", data, "--j", "2"], cwd=project, env=env, stdout=stdout,
                                   stderr=stderr, stdin=subprocess.DEVNULL)
    while not flag.exists():
        if process.poll() is not None:
            raise SystemExit(f"{stage}: the job ended before the stage: {(job / 'run.err').read_text()}")
        time.sleep(0.01)
    time.sleep(0.5)
    (job / ABORT_NOW).touch()
    touched = time.monotonic()
    code = process.wait()
    seconds = time.monotonic() - touched
    if code != 2 or not (job / ABORTED).exists():
        raise SystemExit(f"{stage}: exit {code}, not aborted: {(job / 'run.err').read_text()}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--stage", action="append", choices=list(STAGES), help="only these stages (repeatable)")
    parser.add_argument("--out", type=Path, help="append the JSON result line to this file")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="cryodiscovery_abort_"))
    project = work / "project"
    shutil.copytree(REPO / "examples/class2d_small", project, symlinks=True)
    data = str(sorted((project / "Class2D/job001").glob("run_it*_data.star"))[-1].relative_to(project))
    wrapper = work / "slow_stage.py"
    wrapper.write_text(WRAPPER)
    results = {}
    for stage in args.stage or list(STAGES):
        results[stage] = [round(abort_once(project, data, wrapper, stage, i), 3) for i in range(args.repeat)]
        print(f"{stage:26s} {min(results[stage]):.2f}-{max(results[stage]):.2f} s", flush=True)
    line = json.dumps({"benchmark": "abort_latency", "repeat": args.repeat, "seconds": results})
    print(line)
    if args.out:
        with args.out.open("a") as handle:
            handle.write(line + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
