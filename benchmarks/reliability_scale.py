#!/usr/bin/env python3
"""Scale check (issue 6.7): peak memory of the External job on a 3M-particle, 1,000-class job.

    python benchmarks/reliability_scale.py --work /tmp/scale [--model DIR] [--particles 3000000]
        [--classes 1000] [--montage yes|no] [--limit-mb 1024] [--keep]

Builds the big job with ``benchmarks/make_big_job.py`` from a small simulated project, trains a
1-epoch model if none is given, runs ``cryodiscovery_select`` once in a separate process (as
RELION does) and reports wall time, peak RSS (the job's and its model worker's peaks summed,
from run.out; ``ru_maxrss`` of the biggest process as well), rows written and whether the run
stayed under ``--limit-mb``. Prints one
JSON object; exit status 1 if the job failed or went over the limit. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from make_big_job import make_big_job  # beside this script

REPO = Path(__file__).resolve().parents[1]


def tiny_model(work: Path) -> Path:
    """A small simulated corpus and a 1-epoch model (only the plumbing and memory matter here)."""
    from relion_cryodiscovery.cli.main import main as cli
    from cryodiscovery_dev.simulate.class_average_jobs import make_corpus

    corpus, model = work / "corpus", work / "model"
    if not (corpus / "sim0000").is_dir():
        make_corpus(corpus, n_jobs=3, seed=7)
    if not (model / "model_card.json").is_file():
        projects = [arg for p in sorted(corpus.glob("sim*")) for arg in ("--project", str(p))]
        code = cli(["train", *projects, "--o", str(model), "--epochs", "1", "--val-fraction", "0.34",
                    "--test-fraction", "0", "--quiet", "--model-version", "scale-test"])
        if code:
            raise SystemExit("training the tiny model failed")
    return model


def run_job(project: Path, model: Path, info: dict, threads: int, montage: str = "yes") -> dict:
    """One External-job run in a child process; wall time, peak RSS of that child, exit code."""
    out = "External/job900/"
    shutil.rmtree(project / out, ignore_errors=True)
    (project / out).mkdir(parents=True)
    command = [sys.executable, str(REPO / "relion_external" / "cryodiscovery_select.py"), "--o", out,
               "--in_parts", info["data_star"], "--model", str(model),
               "--min_score", "0", "--min_particles", str(info["min_particles"]), "--j", str(threads),
               "--montage", montage]
    start = time.perf_counter()
    with (project / out / "run.out").open("w") as stdout, (project / out / "run.err").open("w") as stderr:
        process = subprocess.Popen(command, cwd=project, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    written = 0
    particles = project / out / "particles.star"
    if particles.is_file():
        with particles.open("rb") as handle:
            written = sum(chunk.count(b"@") for chunk in iter(lambda: handle.read(1 << 24), b""))
    # ru_maxrss is that of the biggest single process; with a model worker process the job is two:
    # their peaks (run.out's "peak RSS" line) are summed, an upper bound of the two together.
    import re

    text = (project / out / "run.out").read_text()
    worker = re.search(r"model worker process (\d+) MB", text)
    job = re.search(r"^peak RSS: this process (\d+) MB", text, re.M)
    peak = float(job.group(1)) + float(worker.group(1)) if job and worker else usage.ru_maxrss / 1024
    return {
        "exit_code": code,
        "success_marker": (project / out / "RELION_JOB_EXIT_SUCCESS").exists(),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(peak, 1),
        "largest_process_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "rows_written": written,
        "rows_expected": info["expected_rows"],
        "run_err": (project / out / "run.err").read_text().strip()[-500:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch directory (~700 MB for 3M particles)")
    parser.add_argument("--model", type=Path, help="model directory (default: train a 1-epoch one)")
    parser.add_argument("--particles", type=int, default=3_000_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit-mb", type=float, default=1024.0)
    parser.add_argument("--montage", choices=("yes", "no"), default="yes", help="the job's montage parameter")
    parser.add_argument("--keep", action="store_true", help="keep the big project afterwards")
    args = parser.parse_args(argv)

    args.work.mkdir(parents=True, exist_ok=True)
    model = args.model or tiny_model(args.work)
    source = args.work / "corpus" / "sim0000"
    if not source.is_dir():
        from cryodiscovery_dev.simulate.class_average_jobs import make_corpus

        make_corpus(args.work / "corpus", n_jobs=1, seed=7)
    project = args.work / f"p{args.particles}_k{args.classes}"
    start = time.perf_counter()
    info = make_big_job(source, project, args.particles, args.classes)
    build = time.perf_counter() - start
    result = run_job(project, model, info, args.threads, args.montage)
    report = {
        "particles": args.particles,
        "classes": args.classes,
        "data_star_mb": round(info["data_star_bytes"] / 2**20, 1),
        "build_s": round(build, 1),
        "threads": args.threads,
        "montage": args.montage,
        "limit_mb": args.limit_mb,
        **result,
        "within_limit": result["peak_rss_mb"] <= args.limit_mb,
        "host": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                 "self_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
    }
    print(json.dumps(report, indent=1))
    if not args.keep:
        shutil.rmtree(project, ignore_errors=True)
    ok = result["exit_code"] == 0 and result["rows_written"] == result["rows_expected"] and report["within_limit"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
