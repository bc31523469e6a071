#!/usr/bin/env python3
"""Speed of the lab-like corpus producer (the fast path of issue #11) on this machine.

    python benchmarks/lab_corpus_speed.py --jobs 60 --workers 2

Generates ``--jobs`` jobs (the same random jobs ``scripts/make_lab_corpus.py`` draws from
``--seed``) in ``--workers`` processes and reports classes per minute of wall time for the class
averages alone and for averages plus network inputs (64 px views and features), with the machine,
as one JSON line. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def averages_only(seed: int) -> int:
    from cryodiscovery_dev.lab_corpus import model_split
    from cryodiscovery_dev.simulate import lab_classes

    train_models, _ = model_split()
    spec = lab_classes.random_job_spec(np.random.default_rng([seed, 1]), seed, train_models)
    classes, _ = lab_classes.simulate_job(spec)
    return classes.n_classes


def with_inputs(seed: int) -> int:
    from cryodiscovery_dev.lab_corpus import one_job

    return len(one_job((seed, False, False))["labels"])


def run(fn, seeds, workers: int) -> tuple[int, float]:
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        n = sum(pool.map(fn, seeds, chunksize=2))
    return n, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    seeds = list(range(args.seed, args.seed + args.jobs))
    run(averages_only, seeds[:2], args.workers)  # warm the workers' imports and caches
    n_avg, t_avg = run(averages_only, seeds, args.workers)
    n_all, t_all = run(with_inputs, seeds, args.workers)
    print(json.dumps({
        "jobs": args.jobs, "workers": args.workers, "classes": n_avg,
        "class_averages_per_minute": round(n_avg / t_avg * 60), "seconds_averages": round(t_avg, 1),
        "with_network_inputs_per_minute": round(n_all / t_all * 60), "seconds_with_inputs": round(t_all, 1),
        "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "load_average": os.getloadavg(), "python": platform.python_version(),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
