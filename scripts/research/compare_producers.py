#!/usr/bin/env python3
"""Does the fast producer's output look like RELION's? Statistics and cross-domain accuracy.

    python scripts/research/compare_producers.py --sim corpus_cache/sim120 --sim-jobs 40 --epochs 12 \\
        --out docs/producers.md

Two domains of labelled classes, read with the same code the model uses
(:func:`relion_cryodiscovery.training.corpus.read_labelled_job`):

* **RELION**: real ``relion_refine`` 3.1.3 Class2D jobs (``examples/class2d_small`` and
  ``corpus/relion/*``), labelled from the particles' ground truth;
* **fast**: jobs of :mod:`cryodiscovery_dev.simulate.class_average_jobs` (since commit 8db6267 small RELION
  projects of lab-like class averages; docs/producers.md's tables are of the earlier fast producer, at 8db6267).

1. Every feature the model sees (metadata and image statistics), good and bad classes apart:
   medians per domain and the two-sample Kolmogorov-Smirnov distance between the domains.
2. Cross-domain accuracy: one network per domain trained on an equal number of classes from
   half of that domain's jobs, each tested on the held-out half of *both* domains (split by job,
   and each job is its own structure). A producer that resembles RELION gives a model that does as
   well on RELION's held-out jobs as a model trained on RELION's own classes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from cryodiscovery_dev import corpus_paths
from relion_cryodiscovery.data.features import FEATURE_NAMES, FEATURES
from relion_cryodiscovery.data.preprocess import PreprocessConfig
from relion_cryodiscovery.training.corpus import (
    LabelledJob, discover_project, read_labelled_job, read_manifest,
)

REPO = Path(__file__).resolve().parents[2]


def read_domain(sources, config: PreprocessConfig) -> list[LabelledJob]:
    return [read_labelled_job(s, config) for s in sources]


def feature_table(jobs: list[LabelledJob]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, missing, labels) of the usable classes."""
    n = len(FEATURE_NAMES)
    rows = np.concatenate([j.inputs.features[j.inputs.usable] for j in jobs])
    labels = np.concatenate([j.labels[j.inputs.usable] for j in jobs])
    return rows[:, :n], rows[:, n:] > 0.5, labels


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(a, b).statistic) if len(a) and len(b) else float("nan")


def compare_features(real: list[LabelledJob], fast: list[LabelledJob]) -> list[dict]:
    rv, rm, rl = feature_table(real)
    fv, fm, fl = feature_table(fast)
    rows = []
    for i, spec in enumerate(FEATURES):
        row = {"feature": spec.name, "group": spec.group}
        for label, name in ((1, "good"), (0, "bad")):
            r = rv[(rl == label) & ~rm[:, i], i]
            f = fv[(fl == label) & ~fm[:, i], i]
            row[f"relion_{name}"] = float(np.median(r)) if len(r) else float("nan")
            row[f"fast_{name}"] = float(np.median(f)) if len(f) else float("nan")
            row[f"ks_{name}"] = ks_distance(r, f)
        rows.append(row)
    return rows


def split_half(jobs: list[LabelledJob], seed: int) -> tuple[list[LabelledJob], list[LabelledJob]]:
    order = np.random.default_rng(seed).permutation(len(jobs))
    half = len(jobs) // 2
    return [jobs[i] for i in order[:half]], [jobs[i] for i in order[half:]]


def cap_classes(jobs: list[LabelledJob], n_classes: int) -> list[LabelledJob]:
    """The first jobs whose usable classes add up to about ``n_classes``."""
    kept, total = [], 0
    for job in jobs:
        if total >= n_classes:
            break
        kept.append(job)
        total += int(job.inputs.usable.sum())
    return kept


def train_and_test(train: list[LabelledJob], tests: dict[str, list[LabelledJob]], epochs: int, seed: int,
                   out: Path) -> dict:
    """A boosted ensemble trained on ``train`` (validation = a quarter of its jobs), scored on each test set."""
    from relion_cryodiscovery.evaluation.metrics import classification_metrics
    from relion_cryodiscovery.model.distribute import make_strategy
    from relion_cryodiscovery.model.network import NetworkConfig
    from relion_cryodiscovery.training.boosting import BoostingConfig, train_boosted_ensemble
    from relion_cryodiscovery.training.corpus import split_by_group
    from relion_cryodiscovery.training.run import to_arrays
    from relion_cryodiscovery.training.trainer import TrainConfig

    fit_jobs, val_jobs, _ = split_by_group(train, (0.75, 0.25, 0.0), seed)
    config = BoostingConfig(network=NetworkConfig(depth=4, width=16, activation="relu"),
                            train=TrainConfig(epochs=epochs, seed=seed, verbose=0), model_version="compare")
    ensemble = train_boosted_ensemble(
        to_arrays(fit_jobs), to_arrays(val_jobs), config, make_strategy("cpu"), out, log=lambda m: None,
        feature_names=list(FEATURE_NAMES), feature_fills=[float(f.fill) for f in FEATURES],
        preprocessing=PreprocessConfig().to_dict(), data_files=[],
    )
    result = {"train_classes": int(sum(j.inputs.usable.sum() for j in fit_jobs)),
              "val_classes": int(sum(j.inputs.usable.sum() for j in val_jobs))}
    for name, jobs in tests.items():
        truth = np.concatenate([j.labels[j.inputs.usable] for j in jobs])
        pred = [ensemble.predict(j.inputs.images[j.inputs.usable], j.inputs.features[j.inputs.usable]) for j in jobs]
        scores = np.concatenate([p.calibrated for p in pred])
        report = classification_metrics(truth, scores >= 0.5, scores).to_dict()
        result[name] = {k: report[k] for k in ("n_classes", "roc_auc", "accuracy", "false_negative_rate", "ece")}
    return result


def render(features: list[dict], cross: dict, real_n: tuple[int, int], fast_n: tuple[int, int], command: str) -> str:
    def f(x: float) -> str:
        return "n/a" if x != x else f"{x:.2f}"

    lines = [
        "# The fast producer against real RELION classes",
        "",
        f"Made with `{command}` (`scripts/research/compare_producers.py`; the method is in its docstring).",
        f"RELION domain: {real_n[0]} jobs, {real_n[1]} usable classes (real `relion_refine` 3.1.3 Class2D). "
        f"Fast domain: {fast_n[0]} jobs, {fast_n[1]} usable classes (`simulate.class_average_jobs`).",
        "",
        "## 1. Features (medians; KS = Kolmogorov-Smirnov distance between the domains, 0 same .. 1 disjoint)",
        "",
        "| feature | group | RELION good | fast good | KS good | RELION bad | fast bad | KS bad |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in features:
        lines.append(f"| {r['feature']} | {r['group']} | {f(r['relion_good'])} | {f(r['fast_good'])} | "
                     f"**{f(r['ks_good'])}** | {f(r['relion_bad'])} | {f(r['fast_bad'])} | **{f(r['ks_bad'])}** |")
    lines += ["", "## 2. Cross-domain accuracy (threshold 0.5 on calibrated scores; test jobs held out by job/structure)",
              "", "| trained on | train classes | tested on | classes | ROC-AUC | accuracy | FNR | ECE |",
              "|---|---:|---|---:|---:|---:|---:|---:|"]
    for train_name, res in cross.items():
        for test_name in ("relion_test", "fast_test"):
            m = res[test_name]
            lines.append(f"| {train_name} | {res['train_classes']} | {test_name.replace('_test', '')} held out | "
                         f"{m['n_classes']} | {f(m['roc_auc'])} | {f(m['accuracy'])} | "
                         f"{f(m['false_negative_rate'])} | {f(m['ece'])} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim", type=Path, default=corpus_paths.sim_corpus(120))
    parser.add_argument("--sim-jobs", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "producers.md")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    config = PreprocessConfig()
    projects = [corpus_paths.EXAMPLE_PROJECT, *corpus_paths.relion_class2d_projects()]
    real = read_domain([s for p in projects for s in discover_project(p)], config)
    manifest = args.sim / "train_manifest.csv"
    if not manifest.is_file():
        import pandas as pd
        from train_models_0_1_to_0_2 import write_manifest  # beside this script

        manifest = write_manifest(args.sim, pd.read_csv(args.sim / "manifest.csv"))
    fast = read_domain(read_manifest(manifest)[: args.sim_jobs], config)
    print(f"read {len(real)} RELION jobs and {len(fast)} fast jobs in {time.perf_counter() - started:.0f} s", flush=True)
    features = compare_features(real, fast)
    real_train, real_test = split_half(real, args.seed)
    fast_train, fast_test = split_half(fast, args.seed)
    n_train = int(sum(j.inputs.usable.sum() for j in real_train))
    fast_train = cap_classes(fast_train, n_train)
    tests = {"relion_test": real_test, "fast_test": fast_test}
    cross = {}
    for name, train in (("RELION", real_train), ("fast producer", fast_train)):
        cross[name] = train_and_test(train, tests, args.epochs, args.seed, Path(f"/tmp/compare_producers_{name[:4]}"))
        print(name, json.dumps(cross[name]), flush=True)
    n_usable = lambda jobs: int(sum(j.inputs.usable.sum() for j in jobs))  # noqa: E731
    command = (f"python scripts/research/compare_producers.py --sim {args.sim.relative_to(REPO) if args.sim.is_relative_to(REPO) else args.sim} "
               f"--sim-jobs {args.sim_jobs} --epochs {args.epochs} --seed {args.seed}")
    args.out.write_text(render(features, cross, (len(real), n_usable(real)), (len(fast), n_usable(fast)), command))
    if args.json:
        args.json.write_text(json.dumps({"features": features, "cross": cross}, indent=1))
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
