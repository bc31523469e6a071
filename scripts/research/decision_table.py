#!/usr/bin/env python3
"""One table of every class the decision rules are judged on, for trying rules quickly (issue #20).

    python scripts/research/decision_table.py --out corpus_cache/decision_table.pkl [--early_jobs 60]

Rows (one per class): the set or job, the calibrated score, d1/d2, the two measures the job-relative bar
compares (spectral resolution in log10 k D, centre density ``ring_1``), particle counts where known, the
label, and for simulated classes their truth (kind, purity, resolution in A, particle diameter).

* ``real``: every real set as evaluate_model.py reads it (with and without its particle counts);
* ``blob``: the blob probe's semi-real jobs (evaluate_model.py :func:`blob_probe`);
* ``sim``: the 80 held-out lab-like jobs (``corpus_cache/lab/test.npz``);
* ``early``: early-round lab-like jobs of held-out structures (few particles per class, coarse classes),
  simulated here with :func:`early_round_spec`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dataclasses import replace

import numpy as np
import pandas as pd

from cryodiscovery_dev import corpus_paths

REPO = Path(__file__).resolve().parents[2]


def _rows(kind: str, name: str, scores, inputs, labels, counts=None, truth=None) -> pd.DataFrame:
    from relion_cryodiscovery.data.features import feature_values

    table = pd.DataFrame({
        "source": kind, "job": name, "score": scores.calibrated, "d1": scores.p_d1, "d2": scores.p_d2,
        "resolution_kd": feature_values(inputs.features, "spectral_resolution_kd"),
        "ring_1": feature_values(inputs.features, "ring_1"),
        "hf_power": feature_values(inputs.features, "hf_power_fraction"),
        "counts": np.asarray(counts, float) if counts is not None else np.nan,
        "label": np.asarray(labels, float)})
    if truth is not None:
        for column in truth.columns:
            table[column] = truth[column].values
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus_paths.add_model_and_data_args(parser)
    parser.add_argument("--early_jobs", type=int, default=60)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from cryodiscovery_dev.lab_corpus import model_split
    from cryodiscovery_dev.probes import EARLY_SEED, blob_jobs, early_round_spec, simulated_jobs
    from relion_cryodiscovery.data.inputs import oriented_model_inputs
    from relion_cryodiscovery.evaluation.real_sets import load_real_sets
    from relion_cryodiscovery.model.ensemble import BoostedEnsemble
    from cryodiscovery_dev.simulate.lab_models import point_model

    ensemble = BoostedEnsemble.load(args.model)
    parts = []
    real_sets = load_real_sets(args.shared, args.extra)
    for real in real_sets:
        variants = [(real.spec.name, real.classes, real.counts)]
        if real.classes.metadata or real.classes.particle_counts is not None:
            variants.append((real.spec.name + " (stack only)", replace(real.classes, metadata={}, particle_counts=None),
                             None))
        for name, classes, counts in variants:
            inputs, _ = oriented_model_inputs(classes)
            parts.append(_rows("real", name, ensemble.predict(inputs.images, inputs.features), inputs, real.labels,
                               counts))
    for name, blur, classes, labels in blob_jobs(real_sets):
        inputs, _ = oriented_model_inputs(classes)
        parts.append(_rows("blob", f"{name} box/{blur}", ensemble.predict(inputs.images, inputs.features), inputs,
                           labels))
    z = np.load(args.lab / "test.npz")
    truth = pd.read_csv(args.lab / "classes.csv")
    truth = truth[truth.held_out == 1].reset_index(drop=True)
    truth["diameter_a"] = [point_model(s).diameter_a for s in truth.structure]
    scores = ensemble.predict(z["images"].astype(np.float32), z["features"])

    class _Inputs:
        features = z["features"]
    sim = _rows("sim", "", scores, _Inputs, z["labels"], truth.n_particles.values,
                truth[["job", "kind", "purity", "resolution_a", "n_particles", "diameter_a", "pixel_size", "metadata"]])
    sim["job"] = truth.job.values
    parts.append(sim)
    _, test_models = model_split()
    seeds = range(EARLY_SEED, EARLY_SEED + args.early_jobs)
    for seed, spec, inputs, job_truth in simulated_jobs(early_round_spec, seeds, test_models):
        table = pd.DataFrame([{"kind": c.kind, "purity": c.purity, "resolution_a": c.resolution_a,
                               "n_particles": c.n_particles, "diameter_a": point_model(c.model).diameter_a,
                               "pixel_size": spec.pixel_size, "metadata": spec.handover["metadata"]} for c in job_truth])
        parts.append(_rows("early", f"early{seed}", ensemble.predict(inputs.images, inputs.features), inputs,
                           [c.good for c in job_truth], table.n_particles.values, table))
        print(f"early{seed}: {spec.n_classes} classes", flush=True)
    out = pd.concat(parts, ignore_index=True)
    out.to_pickle(args.out)
    print(f"wrote {args.out}: {len(out)} classes")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
