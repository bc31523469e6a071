#!/usr/bin/env python3
"""The bundled example job, whole command: ONNX Runtime vs TensorFlow vs relion_star_handler (issue #21).

    python benchmarks/example_job.py --repeat 5 [--out results.jsonl]

On a fresh copy of ``examples/class2d_small``, alternating, ``--repeat`` times each, as RELION runs it
(``relion_external/cryodiscovery_select.py --o External/jobNNN/ --in_parts <data.star> --j 2``, the shipped
model, ``gpus`` empty):

* ``onnx``: ``CRYODISCOVERY_RUNTIME=onnx`` (what a CPU job uses by default);
* ``tensorflow``: ``CRYODISCOVERY_RUNTIME=tensorflow`` (the model worker process; the path before #21);
* ``relion_star_handler --i <data.star> --o <copy> --select rlnClassNumber --minval 1 --maxval 1000``:
  RELION reading and writing the same ``data.star`` (every particle kept).

Wall time, and peak RSS of the whole process tree sampled every 20 ms (job plus any worker), under
``/usr/bin/time -v`` (``cryodiscovery_dev.process_timing.timed_run``); prints one JSON line of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from cryodiscovery_dev.process_timing import step_times, timed_run

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="append the JSON result line to this file")
    args = parser.parse_args(argv)

    project = Path(tempfile.mkdtemp(prefix="cryodiscovery_example_")) / "project"
    shutil.copytree(REPO / "examples/class2d_small", project, symlinks=True)
    data = str(sorted((project / "Class2D/job001").glob("run_it*_data.star"))[-1].relative_to(project))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    runs: dict[str, list[dict]] = {"onnx": [], "tensorflow": [], "relion_star_handler": []}
    for index in range(args.repeat):
        for runtime in ("onnx", "tensorflow"):
            out = f"External/{runtime}{index:03d}/"
            (project / out).mkdir(parents=True)
            command = [sys.executable, str(REPO / "relion_external/cryodiscovery_select.py"), "--o", out,
                       "--in_parts", data, "--j", str(args.threads)]
            run = timed_run(command, project, project / out / "run.out", project / out / "run.err",
                            dict(env, CRYODISCOVERY_RUNTIME=runtime))
            if run["code"] != 0:
                raise SystemExit(f"{runtime} failed: {(project / out / 'run.err').read_text()}")
            run["steps"] = step_times(project / out / "run.out")
            runs[runtime].append(run)
        other = project / "External/relion"
        other.mkdir(parents=True, exist_ok=True)
        command = ["relion_star_handler", "--i", data, "--o", "External/relion/particles.star", "--select",
                   "rlnClassNumber", "--minval", "1", "--maxval", "1000"]
        run = timed_run(command, project, other / "run.out", other / "run.err")
        if run["code"] != 0:
            raise SystemExit(f"relion_star_handler failed: {(other / 'run.err').read_text()}")
        runs["relion_star_handler"].append(run)

    result = {"repeat": args.repeat, "threads": args.threads}
    for name, done in runs.items():
        result[name] = {key: round(statistics.median(run[key] for run in done), 3)
                        for key in ("wall_s", "tree_rss_mb", "cpu_s")}
        result[name]["wall_s_all"] = [round(run["wall_s"], 2) for run in done]
        if name != "relion_star_handler":
            steps = {step for run in done for step in run["steps"]}
            result[name]["steps"] = {step: round(statistics.median(run["steps"].get(step, 0.0) for run in done), 3)
                                     for step in sorted(steps)}
    line = json.dumps(result)
    print(line)
    if args.out:
        with args.out.open("a") as handle:
            handle.write(line + "\n")
    shutil.rmtree(project.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
