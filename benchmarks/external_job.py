#!/usr/bin/env python3
"""Time the External job against RELION's ``relion_star_handler`` on one big fake job.

    python benchmarks/external_job.py --project BIG/p1000000_k200 --model MODEL_DIR --repeat 3

Runs, alternating, ``--repeat`` times each, in the project directory as RELION would:

* ours: ``relion_external/cryodiscovery_select.py --o External/job002/ --in_parts <data.star>
  --model M --min_score 0 --min_particles T --j J`` (stdout/stderr to run.out/run.err, as RELION
  redirects them); TensorFlow start-up, model load, inference and every output included;
* RELION: ``relion_star_handler --i <data.star> --o External/relion/particles.star --select
  rlnClassNumber --minval 1 --maxval K/2``: the same particle subset (``make_big_job.py`` makes
  classes 1..K/2 exactly the ones above min_particles);
* the floor: an ``awk`` line filter copying the selected rows verbatim.

each under ``/usr/bin/time -v`` (wall time, peak RSS, CPU). Checks that every tool wrote the
expected number of rows, then prints one JSON line with the medians (and appends it to --out).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
from pathlib import Path

from cryodiscovery_dev.process_timing import peak_rss, step_times, timed_run

from relion_cryodiscovery.relion.star import particle_columns

REPO = Path(__file__).resolve().parents[1]


def count_rows(path: Path, n_columns: int) -> int:
    """Particle rows in a STAR file written by any of the tools (lines with n_columns values)."""
    rows = 0
    in_particles = False
    with path.open("rb") as handle:
        for line in handle:
            if line.startswith(b"data_"):
                in_particles = line.strip() in (b"data_particles", b"data_")
            elif in_particles and len(line.split()) == n_columns:
                rows += not line.lstrip().startswith((b"_", b"#"))
    return rows


def median(runs: list[dict], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a project written by make_big_job.py")
    parser.add_argument("--model", type=Path, required=True, help="model directory for --model")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="the job's --j (TensorFlow CPU threads)")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="checkout whose External executable and package run (default: this one)")
    parser.add_argument("--label", default="", help="free text stored with the result (e.g. 'before')")
    parser.add_argument("--no-relion", action="store_true", help="skip relion_star_handler")
    parser.add_argument("--no-awk", action="store_true", help="skip the awk floor")
    parser.add_argument("--out", type=Path, help="append the JSON result line to this file")
    args = parser.parse_args(argv)

    project = args.project.resolve()
    info = json.loads((project / "bench.json").read_text())
    data = info["data_star"]
    columns = particle_columns(project / data)
    n_columns, class_index = len(columns), columns.index("rlnClassNumber") + 1
    low, high = info["keep_classes"]
    expected = info["expected_rows"]
    repo = args.repo.resolve()
    path = os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    job = project / "External/job002"
    other = project / "External/relion"
    for directory in (job, other):
        directory.mkdir(parents=True, exist_ok=True)

    ours_command = [sys.executable, str(repo / "relion_external/cryodiscovery_select.py"),
                    "--o", "External/job002/", "--in_parts", data, "--model", str(args.model.resolve()),
                    "--min_score", "0",
                    "--min_particles", str(info["min_particles"]), "--j", str(args.threads)]
    relion_command = ["relion_star_handler", "--i", data, "--o", "External/relion/particles.star", "--select",
                      "rlnClassNumber", "--minval", str(low), "--maxval", str(high)]
    awk_program = (f'/^data_/ {{ p = ($1 == "data_particles") }} '
                   f'p && NF == {n_columns} && $1 !~ /^[_#]/ {{ if (${class_index} >= {low} && '
                   f'${class_index} <= {high}) print; next }} {{ print }}')
    awk_command = ["sh", "-c", f"awk '{awk_program}' {data} > External/relion/awk.star"]

    ours, relion, awk = [], [], []
    steps: list[dict[str, float]] = []
    for _ in range(args.repeat):
        run = timed_run(ours_command, project, job / "run.out", job / "run.err", env)
        if run["code"] != 0 or not (job / "RELION_JOB_EXIT_SUCCESS").exists():
            raise SystemExit(f"the External job failed: {(job / 'run.err').read_text()}")
        written = re.search(r"wrote (\d+) of", (job / "run.out").read_text())
        if not written or int(written.group(1)) != expected:
            rows = written and written.group(1)
            raise SystemExit(f"the External job wrote {rows} rows, expected {expected}")
        # /usr/bin/time's maximum RSS is that of the biggest single process (wait4 semantics), so
        # with a model worker process it misses the other one: the job's own figures are summed.
        main_rss, worker_rss = peak_rss(job / "run.out")
        run["worker_rss_mb"] = worker_rss or 0.0
        run["total_rss_mb"] = (main_rss or run["rss_mb"]) + (worker_rss or 0.0)
        ours.append(run)
        steps.append(step_times(job / "run.out"))
        if not args.no_relion:
            run = timed_run(relion_command, project, other / "run.out", other / "run.err")
            found = re.search(r"with (\d+) item", (other / "run.out").read_text())
            if run["code"] != 0 or not found or int(found.group(1)) != expected:
                log = (other / "run.out").read_text()
                raise SystemExit(f"relion_star_handler failed or wrote another subset: {log}")
            relion.append(run)
        if not args.no_awk:
            run = timed_run(awk_command, project, other / "awk.out", other / "awk.err")
            if run["code"] != 0:
                raise SystemExit(f"awk failed: {(other / 'awk.err').read_text()}")
            awk.append(run)
    if not args.no_awk and count_rows(project / "External/relion/awk.star", n_columns) != expected:
        raise SystemExit("awk wrote another subset")

    result = {
        "label": args.label,
        "particles": info["particles"],
        "classes": info["classes"],
        "data_star_mb": round(info["data_star_bytes"] / 1e6, 1),
        "kept_rows": expected,
        "repeat": args.repeat,
        "threads": args.threads,
        "ours_wall_s": median(ours, "wall_s"),
        "ours_wall_s_all": [round(run["wall_s"], 2) for run in ours],
        "ours_rss_mb": round(max(run["rss_mb"] for run in ours), 1),
        "ours_worker_rss_mb": round(max(run["worker_rss_mb"] for run in ours), 1),
        "ours_total_rss_mb": round(max(run["total_rss_mb"] for run in ours), 1),
        "ours_tree_rss_mb": round(max(run["tree_rss_mb"] for run in ours), 1),
        "ours_cpu_s": median(ours, "cpu_s"),
        "ours_steps_s": {key: round(statistics.median(s.get(key, 0.0) for s in steps), 3)
                         for key in steps[0]},
        "load_average": os.getloadavg(),
    }
    if relion:
        result.update({
            "relion_wall_s": median(relion, "wall_s"),
            "relion_wall_s_all": [round(run["wall_s"], 2) for run in relion],
            "relion_rss_mb": round(max(run["rss_mb"] for run in relion), 1),
            "ratio": round(result["ours_wall_s"] / median(relion, "wall_s"), 3),
        })
    if awk:
        result.update({"awk_wall_s": median(awk, "wall_s"),
                       "awk_rss_mb": round(max(run["rss_mb"] for run in awk), 1)})
    line = json.dumps(result)
    print(line, flush=True)
    if args.out:
        with args.out.open("a") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
