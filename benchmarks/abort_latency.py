#!/usr/bin/env python3
"""How long the External job takes to end after RELION's ``RELION_JOB_ABORT_NOW``, at every stage.

    python benchmarks/abort_latency.py --repeat 4 [--out results.jsonl]

On a fresh copy of ``examples/class2d_small`` with the shipped model, as RELION runs it (the External
executable, cwd = the project), one stage at a time is patched to repeat its real work for a minute
and to say when it has started (:mod:`cryodiscovery_dev.abort_stages`, which
``tests/test_reliability_faults.py::test_abort_interrupts_every_stage`` uses too: it checks the abort's
outcome but asserts no time). ``RELION_JOB_ABORT_NOW`` is touched 0.5 s after the stage starts; the
figure is the wall time from then to the process's exit. Prints one line per stage (min-max over the
runs) and one JSON line (docs/reliability.md, section 3, shows the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cryodiscovery_dev.abort_stages import STAGES, command, finished_flag, wait_until_started

REPO = Path(__file__).resolve().parents[1]
ABORT_NOW, ABORTED = "RELION_JOB_ABORT_NOW", "RELION_JOB_EXIT_ABORTED"

def abort_once(project: Path, data: str, stage: str, index: int) -> float:
    """Seconds from ``RELION_JOB_ABORT_NOW`` to the exit of a job held in ``stage``."""
    runtime = STAGES[stage][2]
    out = f"External/{stage}{index:03d}/"
    job = project / out
    job.mkdir(parents=True)
    flag = job.parent / f".{stage}{index:03d}_started"
    env = dict(os.environ, CRYODISCOVERY_RUNTIME=runtime,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with open(job / "run.out", "w") as stdout, open(job / "run.err", "w") as stderr:
        process = subprocess.Popen(command(stage, flag, ["--o", out, "--in_parts", data, "--j", "2"]),
                                   cwd=project, env=env, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
    try:
        wait_until_started(flag, process, f"stage {stage}", run_err=job / "run.err")
    except RuntimeError as error:
        raise SystemExit(f"{stage}: {error}")
    time.sleep(0.5)
    (job / ABORT_NOW).touch()
    touched = time.monotonic()
    code = process.wait()
    seconds = time.monotonic() - touched
    if code != 2 or not (job / ABORTED).exists() or finished_flag(flag).exists():
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
    results = {}
    for stage in args.stage or list(STAGES):
        results[stage] = [round(abort_once(project, data, stage, i), 3) for i in range(args.repeat)]
        print(f"{stage:26s} {min(results[stage]):.2f}-{max(results[stage]):.2f} s", flush=True)
    line = json.dumps({"benchmark": "abort_latency", "repeat": args.repeat, "seconds": results})
    print(line)
    if args.out:
        with args.out.open("a") as handle:
            handle.write(line + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
