#!/usr/bin/env python3
"""The External job from several checkouts (or installs) and relion_star_handler, interleaved, on one project.

    python benchmarks/checkouts_ab.py --project P --in_parts DATA_STAR --repeat 9 \
        before=/tmp/old_checkout after=. lean=exe:/tmp/venv_lean/bin/cryodiscovery_select [-- JOB ARGS]

Each round runs every named job once, then ``relion_star_handler --i DATA_STAR --select rlnClassNumber
--minval 1 --maxval $KEEP_MAX`` (default 1000: every particle kept, i.e. RELION reading and writing the same
data.star; ``make_big_job.py`` projects keep classes 1..K/2 at the benchmark's ``--min_particles``). A
checkout runs as ``python CHECKOUT/relion_external/cryodiscovery_select.py`` with ``PYTHONPATH=CHECKOUT``;
``exe:PATH`` runs an installed executable as it is (its own environment). Each job is a process of its own,
so this script imports no checkout: its timing helpers come from the dev package. Wall time, CPU time and
the peak RSS of the whole process tree (sampled every 20 ms) come from
:func:`cryodiscovery_dev.process_timing.timed_run`; prints each round, then one JSON object of medians,
with each job's step times from its ``run.out`` and its ratio to RELION in the same rounds. Comparing
checkouts in the same rounds is what makes figures from a shared, busy machine comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

from cryodiscovery_dev.process_timing import step_times, timed_run


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--in_parts", required=True, help="the data.star, relative to the project")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-relion", action="store_true")
    parser.add_argument("jobs", nargs="+", metavar="NAME=CHECKOUT|NAME=exe:PATH")
    args = parser.parse_args(argv)
    jobs = dict(spec.split("=", 1) for spec in args.jobs)
    keep_max = os.environ.get("KEEP_MAX", "1000")
    project = args.project.resolve()
    runs: dict[str, list[dict]] = {name: [] for name in [*jobs, "relion_star_handler"]}
    for round_ in range(args.repeat):
        for name, where in jobs.items():
            out = project / f"External/ab_{name}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            job_args = ["--o", f"External/ab_{name}/", "--in_parts", args.in_parts, "--j", str(args.threads), *extra]
            if where.startswith("exe:"):
                env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                command = [where[4:], *job_args]
            else:
                checkout = Path(where).resolve()
                env = dict(os.environ, PYTHONPATH=str(checkout))
                command = [sys.executable, str(checkout / "relion_external/cryodiscovery_select.py"), *job_args]
            run = timed_run(command, project, out / "run.out", out / "run.err", env)
            if run["code"] != 0:
                raise SystemExit(f"{name} failed: {(out / 'run.err').read_text()}")
            run["steps"] = step_times(out / "run.out")
            runs[name].append(run)
        if not args.no_relion:
            other = project / "External/ab_relion"
            other.mkdir(parents=True, exist_ok=True)
            run = timed_run(["relion_star_handler", "--i", args.in_parts, "--o", "External/ab_relion/particles.star",
                             "--select", "rlnClassNumber", "--minval", "1", "--maxval", keep_max],
                            project, other / "run.out", other / "run.err")
            if run["code"] != 0:
                raise SystemExit(f"relion_star_handler failed: {(other / 'run.err').read_text()}")
            runs["relion_star_handler"].append(run)
        print(f"[{round_}] " + "  ".join(f"{name} {done[-1]['wall_s']:.2f} s {done[-1]['tree_rss_mb']:.0f} MB"
                                        for name, done in runs.items() if done), flush=True)
    result: dict[str, dict] = {"load_average_at_end": list(os.getloadavg())}
    for name, done in runs.items():
        if not done:
            continue
        result[name] = {key: round(statistics.median(run[key] for run in done), 3)
                        for key in ("wall_s", "cpu_s", "tree_rss_mb")}
        result[name]["wall_s_all"] = [round(run["wall_s"], 2) for run in done]
        result[name]["tree_rss_mb_max"] = round(max(run["tree_rss_mb"] for run in done), 1)
        if name in jobs:
            steps = {step for run in done for step in run["steps"]}
            result[name]["steps_s"] = {step: round(statistics.median(run["steps"].get(step, 0.0) for run in done), 3)
                                       for step in sorted(steps)}
    if runs["relion_star_handler"]:
        for name in jobs:
            result[name]["ratio"] = round(result[name]["wall_s"] / result["relion_star_handler"]["wall_s"], 3)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
