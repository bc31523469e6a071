#!/usr/bin/env python3
"""Generate the lab-like simulated corpus (``simulate.lab_classes``) as network inputs.

    python scripts/make_lab_corpus.py --jobs 400 --seed 20261201 --out corpus_cache/lab

Each job draws its structures from the committed atomic models; structures are split into train
and held-out sets by the same stable hash as the real RELION corpus
(:func:`cryodiscovery_dev.holdout.is_held_out`), so held-out jobs only contain
structures no training job has. Writes ``train.npz`` and ``test.npz`` (64 px views as float16,
feature rows, labels, job ids) and ``classes.csv`` (the truth of every class: kind, particles,
purity, resolution, structure, geometry, hand-over style). Regenerable from the seed; not committed.
``--stacks N`` also keeps the raw class stacks of the first N jobs (for montages).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from relion_cryodiscovery.data.inputs import model_inputs  # noqa: E402
from relion_cryodiscovery.simulate import lab_classes  # noqa: E402
from relion_cryodiscovery.simulate.atomic import LEGACY_MODEL_NAMES, catalog  # noqa: E402
from cryodiscovery_dev.holdout import TEST_FRACTION, is_held_out  # noqa: E402


def _hash_rank(name: str) -> float:
    digest = hashlib.sha256(f"structure:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def model_split() -> tuple[list[str], list[str]]:
    """(train, held-out) atomic model names.

    The models the real relion_refine corpus also uses keep that corpus's assignment
    (:func:`is_held_out`, a stable hash). The others are held out within each stratum of shape
    (nucleic-acid complexes, membrane proteins, filaments, ...) and size (< 100, 100-500, >= 500 kDa)
    by the same hash, about 30% of each, so each kind is both trained on and tested.
    """
    names = lab_classes.model_pool()
    test = [n for n in names if n in LEGACY_MODEL_NAMES and is_held_out(f"structure:{n}")]
    new = [n for n in names if n not in LEGACY_MODEL_NAMES]
    def stratum(name: str) -> tuple[str, int]:
        mass = catalog()[name]["mass_kda"]
        return catalog()[name].get("shape", ""), int(mass >= 100) + int(mass >= 500)

    for key in sorted({stratum(n) for n in new}):
        members = sorted((n for n in new if stratum(n) == key), key=_hash_rank)
        test += members[: int(round(TEST_FRACTION * len(members)))]
    return [n for n in names if n not in test], [n for n in names if n in test]


def one_job(args: tuple[int, bool, bool]) -> dict:
    seed, held_out, keep_stack = args
    train_models, test_models = model_split()
    rng = np.random.default_rng([seed, 1])
    spec = lab_classes.random_job_spec(rng, seed, test_models if held_out else train_models)
    t0 = time.perf_counter()
    classes, truth = lab_classes.simulate_job(spec)
    t_sim = time.perf_counter() - t0
    inputs = model_inputs(classes)
    t_all = time.perf_counter() - t0
    rows = [{"job": f"lab{seed}", "class_number": i + 1, "kind": c.kind, "n_particles": c.n_particles,
             "purity": round(c.purity, 3), "resolution_a": round(c.resolution_a, 2), "good": int(c.good),
             "structure": c.model, "box": spec.box, "pixel_size": spec.pixel_size, "n_classes": spec.n_classes,
             "handover": spec.handover["style"], "mask": spec.handover["mask"],
             "metadata": spec.handover["metadata"], "held_out": int(held_out)}
            for i, c in enumerate(truth)]
    out = {"seed": seed, "held_out": held_out, "images": inputs.images.astype(np.float16),
           "features": inputs.features, "labels": np.array([c.good for c in truth], np.int8), "rows": rows,
           "seconds_simulate": t_sim, "seconds_total": t_all, "spec": spec.to_dict()}
    if keep_stack:
        out["stack"] = classes.images
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=400, help="number of jobs (train + held out)")
    parser.add_argument("--test_jobs", type=int, default=60, help="of which held-out-structure jobs")
    parser.add_argument("--seed", type=int, default=20261201, help="first job seed (jobs use seed, seed+1, ...)")
    parser.add_argument("--out", type=Path, default=REPO / "corpus_cache" / "lab", help="output folder")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    parser.add_argument("--stacks", type=int, default=0, help="keep raw class stacks of the first N jobs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = [(args.seed + i, i >= args.jobs - args.test_jobs, i < args.stacks) for i in range(args.jobs)]
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
    summary = {"simulator_version": lab_classes.SIMULATOR_VERSION, "jobs": len(tasks), "classes": len(table), "good": int(table["good"].sum()), "seed": args.seed,
               "workers": args.workers, "wall_seconds": round(wall, 1),
               "classes_per_minute_wall": round(len(table) / wall * 60, 1),
               "simulate_cpu_seconds": round(sim_seconds, 1), "inputs_cpu_seconds": round(total_seconds - sim_seconds, 1)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
