#!/usr/bin/env python3
"""Generate the lab-like simulated corpus (``simulate.lab_classes``) as network inputs.

    python scripts/make_lab_corpus.py --jobs 400 --seed 20261201 --out corpus_cache/lab

Each job (:func:`cryodiscovery_dev.lab_corpus.one_job`) draws its structures from the committed atomic
models; structures are split into train and held-out sets by the same stable hash as the real RELION corpus
(:func:`cryodiscovery_dev.lab_corpus.model_split`), so held-out jobs only contain structures no training
job has. Writes ``train.npz`` and ``test.npz`` (64 px views as float16,
feature rows, labels, job ids) and ``classes.csv`` (the truth of every class: kind, particles,
purity, resolution, structure, geometry, hand-over style). Regenerable from the seed; not committed.
``--stacks N`` also keeps the raw class stacks of the first N jobs (for montages).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from cryodiscovery_dev.corpus_paths import LAB_CORPUS
from cryodiscovery_dev.lab_corpus import one_job
from cryodiscovery_dev.simulate import lab_classes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=400, help="number of jobs (train + held out)")
    parser.add_argument("--test_jobs", type=int, default=60, help="of which held-out-structure jobs")
    parser.add_argument("--seed", type=int, default=20261201, help="first job seed (jobs use seed, seed+1, ...)")
    parser.add_argument("--out", type=Path, default=LAB_CORPUS, help="output folder")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--stacks", type=int, default=0, help="keep raw class stacks of the first N jobs")
    parser.add_argument("--tight_box_fraction", type=float, default=0.0,
                        help="share of jobs boxed tightly (particle fills 85-100%%; default 0, the shipped corpus; "
                             f"tried: {lab_classes.TIGHT_BOX_FRACTION})")
    parser.add_argument("--unequal_mixture_fraction", type=float, default=0.0,
                        help="share of mixtures of complexes up to threefold apart in size (default 0; tried: "
                             f"{lab_classes.UNEQUAL_MIXTURE_FRACTION})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    options = {"tight_box_fraction": args.tight_box_fraction, "unequal_mixture_fraction": args.unequal_mixture_fraction}
    tasks = [(args.seed + i, i >= args.jobs - args.test_jobs, i < args.stacks, options) for i in range(args.jobs)]
    start = time.perf_counter()
    parts: dict[bool, list[dict]] = {False: [], True: []}
    rows: list[dict] = []
    sim_seconds = total_seconds = 0.0
    with ProcessPoolExecutor(args.workers) as pool:
        for i, job in enumerate(pool.map(one_job, tasks, chunksize=2)):
            parts[job["held_out"]].append(job)
            rows += job["rows"]
            sim_seconds += job["seconds_simulate"]
            total_seconds += job["seconds_total"]
            if "stack" in job:
                np.save(args.out / f"stack_lab{job['seed']}.npy", job["stack"])
                (args.out / f"spec_lab{job['seed']}.json").write_text(json.dumps(job["spec"]))
            if (i + 1) % 20 == 0:
                print(f"{i + 1}/{len(tasks)} jobs, {len(rows)} classes, {time.perf_counter() - start:.0f} s", flush=True)
    wall = time.perf_counter() - start
    for held_out, jobs in parts.items():
        if not jobs:
            continue
        np.savez(args.out / ("test.npz" if held_out else "train.npz"),
                 images=np.concatenate([j["images"] for j in jobs]),
                 features=np.concatenate([j["features"] for j in jobs]),
                 labels=np.concatenate([j["labels"] for j in jobs]),
                 groups=np.concatenate([[f"lab{j['seed']}"] * len(j["labels"]) for j in jobs]))
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "classes.csv", index=False)
    summary = {"simulator_version": lab_classes.SIMULATOR_VERSION, "spec_options": options, "jobs": len(tasks), "classes": len(table), "good": int(table["good"].sum()), "seed": args.seed,
               "workers": args.workers, "wall_seconds": round(wall, 1),
               "classes_per_minute_wall": round(len(table) / wall * 60, 1),
               "simulate_cpu_seconds": round(sim_seconds, 1), "inputs_cpu_seconds": round(total_seconds - sim_seconds, 1)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
