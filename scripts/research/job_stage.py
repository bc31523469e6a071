#!/usr/bin/env python3
"""A learned job-aware stage on top of the ensemble's scores, measured against the hand-made bar (issue #20).

    python scripts/research/job_stage.py --table corpus_cache/decision_table_080.pkl

The issue lists "a set-level stage that sees all the classes of a job at once" as one way to decide like a
person. This trains the smallest such stage: per class, features taken relative to its job (the class's logit
beside the mean logit of the job's best classes, its rank, its spectral resolution and centre density beside
the best classes', its particle share beside theirs where counts are known) into a logistic regression or a
gradient-boosted tree model. Training data: the simulated jobs of the decision table
(``scripts/research/decision_table.py``: the 80 held-out lab-like jobs and 60 early-round jobs, all of
structures the ensemble never saw, so their scores are what a new job gets), two-fold by job; the real sets
are never trained on. Labels: the simulator's, or job-relative (:func:`.truth.job_relative_labels`).
The stage's threshold is the largest that loses at most 5% of the training folds' good classes, as the
shipped threshold rule. Prints simulated figures (held-out fold) and every real set's lost / junk removed beside
the shipped rule (0.8.0's decision, :mod:`decision_rules`).

``--real_loso``: the same stage trained on the real sets themselves (optionally with the simulated jobs at
``--sim_weight``), each real set judged by a stage trained without it (a set and its copy without counts count
as one), the threshold losing at most 5% of the training sets' good classes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from decision_rules import RULE_080, decide, jobs_of, relative_labels  # the script's own folder

from relion_cryodiscovery.selection import best_classes

FEATURES = ("logit", "rel_logit", "best_logit", "rank", "rel_res", "rel_centre", "res", "centre", "rel_share",
            "has_share", "d1_d2")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def job_features(s: np.ndarray, r: np.ndarray, c: np.ndarray, counts: np.ndarray, d1: np.ndarray,
                 d2: np.ndarray) -> np.ndarray:
    """(k, len(FEATURES)) features of one job's classes, relative to its best classes."""
    top = best_classes(s)
    logit = _logit(s)
    best = logit[top].mean()
    rank = np.argsort(np.argsort(-s)) / max(len(s) - 1, 1)
    rr = np.nanmedian(r[top]) if np.isfinite(r[top]).any() else np.nan
    cc = np.nanmedian(c[top]) if np.isfinite(c[top]).any() else np.nan
    known = np.isfinite(counts) & (counts >= 0)
    share = np.where(known, np.log10(np.maximum(counts, 1)), np.nan)
    rel_share = share - np.nanmedian(share[top]) if known[top].any() else np.full(len(s), np.nan)
    cols = [logit, logit - best, np.full(len(s), best), rank, r - rr, c - cc, r, c, rel_share,
            known.astype(float), np.abs(_logit(d1) - _logit(d2))]
    return np.nan_to_num(np.column_stack(cols), nan=0.0)


def table_arrays(table: pd.DataFrame, relative: bool) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """{job: (features, labels, source)} of every job in the decision table."""
    out = {}
    for job, d in table.groupby("job", sort=False):
        source = d.source.iloc[0]
        y = d.label.values.astype(bool)
        if relative and source in ("sim", "early"):
            y = relative_labels(d)
        x = job_features(d.score.values, d.resolution_kd.values, d.ring_1.values, d.counts.values, d.d1.values,
                         d.d2.values)
        out[job] = (x, y, source)
    return out


def fit(x: np.ndarray, y: np.ndarray, kind: str, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(x, y)
    return HistGradientBoostingClassifier(max_depth=3, max_iter=200, learning_rate=0.05, random_state=seed).fit(x, y)


def threshold_for(p: np.ndarray, y: np.ndarray, max_fnr: float = 0.05) -> float:
    """Largest threshold losing at most ``max_fnr`` of the good classes."""
    good = np.sort(p[y])
    return float(good[int(np.floor(max_fnr * len(good)))]) if len(good) else 0.5


def family(job: str) -> str:
    """The real set a job belongs to (its copy without counts, or inverted, is the same set)."""
    return job.replace(" (stack only)", "").replace("_inverted", "")


def real_leave_one_out(table: pd.DataFrame, jobs_rule: dict, seed: int, sim_weight: float) -> None:
    """The stage trained on the real sets themselves, judged leave-one-set-out (each set scored by a stage
    trained on the others, plus the simulated jobs at ``sim_weight`` when > 0)."""
    arrays = table_arrays(table, relative=False)
    real = [j for j, (_, _, s) in arrays.items() if s == "real"]
    sim = [j for j, (_, _, s) in arrays.items() if s in ("sim", "early")]
    print(f"\nreal sets, leave one set out (simulated jobs at weight {sim_weight:g}):")
    for kind in ("logistic", "boosted trees"):
        totals = {"stage": [0, 0, 0, 0], "0.8.0": [0, 0, 0, 0]}
        for held in sorted({family(j) for j in real}):
            train = [j for j in real if family(j) != held] + (sim if sim_weight > 0 else [])
            x = np.concatenate([arrays[j][0] for j in train])
            y = np.concatenate([arrays[j][1] for j in train])
            w = np.concatenate([np.full(len(arrays[j][1]), sim_weight if j in sim else 1.0) for j in train])
            model = fit_weighted(x, y, w, kind, seed)
            real_train = np.concatenate([arrays[j][0] for j in train if j not in sim])
            real_y = np.concatenate([arrays[j][1] for j in train if j not in sim])
            t = threshold_for(model.predict_proba(real_train)[:, 1], real_y)
            for job in (j for j in real if family(j) == held):
                xj, yj, _ = arrays[job]
                keep = model.predict_proba(xj)[:, 1] >= t
                rule = jobs_rule[job]
                keep_rule = decide(rule["s"], rule["r"], rule["c"], RULE_080)
                for name, k in (("stage", keep), ("0.8.0", keep_rule)):
                    tot = totals[name]
                    tot[0] += int((yj & ~k).sum()); tot[1] += int(yj.sum())
                    tot[2] += int((~yj & ~k).sum()); tot[3] += int((~yj).sum())
                fmt = lambda k: f"{int((yj & ~k).sum())}/{int(yj.sum())} lost, " + (
                    f"{(~yj & ~k).sum() / (~yj).sum():.2f} junk removed" if (~yj).any() else "-")
                print(f"    {kind:14s} {job:45s} stage: {fmt(keep):32s} 0.8.0: {fmt(keep_rule)}")
        for name, (lost, good, junk, bad) in totals.items():
            print(f"  {kind} pooled, {name}: lost {lost}/{good} ({lost / good:.3f}), junk removed {junk}/{bad} "
                  f"({junk / bad:.3f})")


def fit_weighted(x: np.ndarray, y: np.ndarray, w: np.ndarray, kind: str, seed: int):
    """:func:`fit` with sample weights."""
    if np.all(w == 1):
        return fit(x, y, kind, seed)
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        scaler = StandardScaler().fit(x)
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(x), y, sample_weight=w)
        from sklearn.pipeline import Pipeline

        return Pipeline([("scale", scaler), ("clf", clf)])
    return HistGradientBoostingClassifier(max_depth=3, max_iter=200, learning_rate=0.05,
                                          random_state=seed).fit(x, y, sample_weight=w)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, default=Path("corpus_cache/decision_table.pkl"))
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--real_loso", action="store_true",
                        help="instead: train on the real sets, judged leave-one-set-out")
    parser.add_argument("--sim_weight", type=float, default=0.0,
                        help="with --real_loso: weight of the simulated jobs added to the training sets (0: none)")
    args = parser.parse_args()
    table = pd.read_pickle(args.table)
    jobs_rule = jobs_of(table)
    if args.real_loso:
        real_leave_one_out(table, jobs_rule, args.seed, args.sim_weight)
        return 0
    for relative in (False, True):
        arrays = table_arrays(table, relative)
        sim = [j for j, (_, _, s) in arrays.items() if s in ("sim", "early")]
        rng = np.random.default_rng(args.seed)
        fold = {j: int(f) for j, f in zip(sim, rng.permutation(len(sim)) % 2)}
        for kind in ("logistic", "boosted trees"):
            lost = good = junk = bad = 0
            lost_rule = junk_rule = 0
            for held in (0, 1):
                train = [j for j in sim if fold[j] != held]
                x = np.concatenate([arrays[j][0] for j in train])
                y = np.concatenate([arrays[j][1] for j in train])
                model = fit(x, y, kind, args.seed)
                t = threshold_for(model.predict_proba(x)[:, 1], y)
                for j in (j for j in sim if fold[j] == held):
                    xj, yj, _ = arrays[j]
                    keep = model.predict_proba(xj)[:, 1] >= t
                    rule = jobs_rule[j]
                    keep_rule = decide(rule["s"], rule["r"], rule["c"], RULE_080)
                    lost, good = lost + (yj & ~keep).sum(), good + yj.sum()
                    junk, bad = junk + (~yj & ~keep).sum(), bad + (~yj).sum()
                    lost_rule, junk_rule = lost_rule + (yj & ~keep_rule).sum(), junk_rule + (~yj & ~keep_rule).sum()
            labels = "job-relative labels" if relative else "simulator's labels"
            print(f"\n{kind}, {labels}: simulated held-out folds (140 jobs) lost {lost / good:.3f}, junk removed "
                  f"{junk / bad:.3f}; 0.8.0's rule on the same classes: lost {lost_rule / good:.3f}, junk removed "
                  f"{junk_rule / bad:.3f}")
            x = np.concatenate([arrays[j][0] for j in sim])
            y = np.concatenate([arrays[j][1] for j in sim])
            model = fit(x, y, kind, args.seed)
            t = threshold_for(model.predict_proba(x)[:, 1], y)
            for job, (xj, yj, source) in arrays.items():
                if source != "real" or (~yj).sum() == 0 and yj.sum() < 2:
                    continue
                keep = model.predict_proba(xj)[:, 1] >= t
                rule = jobs_rule[job]
                keep_rule = decide(rule["s"], rule["r"], rule["c"], RULE_080)
                fmt = lambda k: f"{int((yj & ~k).sum())}/{int(yj.sum())} lost, " + (
                    f"{(~yj & ~k).sum() / (~yj).sum():.2f} junk removed" if (~yj).any() else "-")
                print(f"    {job:45s} stage: {fmt(keep):32s} 0.8.0: {fmt(keep_rule)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
