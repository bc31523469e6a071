#!/usr/bin/env python3
"""Try decision rules on the decision table in numpy: the tables of docs/model_card_notes.md, "0.8.0" (issue #20).

    python scripts/research/decision_table.py --out corpus_cache/decision_table.pkl   # once, 140 s
    python scripts/research/decision_rules.py --table corpus_cache/decision_table.pkl

A fast re-implementation of ``selection.py``'s rule (absolute threshold, job-relative bar with its looks,
the weak job's lowered bar) for sweeping its parameters over every class the rules are judged on; the
adopted rule is re-measured through ``selection.py`` by ``scripts/evaluate_model.py``. Prints, for each rule
of the notes' tables: the simulated hold-out (simulator's and job-relative labels), the early rounds,
junk-only and ice-only jobs, the blob probe and the real sets that change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from relion_cryodiscovery.selection import best_classes

#: The kinds of a particle view (the simulator's), for junk-only probes.
VIEW = ["particle", "mixed", "misaligned"]
#: 0.7.0's default, the lowered bar's corner and 0.8.0's default.
RULE_070 = dict(min=0.177, gap=2.0, start=0.95, det=0.25, cen=0.4)
LOWERED = dict(lgap=2.0, lbelow=0.5, lfloor=0.2)
RULE_080 = dict(RULE_070, **LOWERED, blob_det=0.15, blob_cen=0.2)
#: 0.8.1: the centre rule only for classes also coarser by 0.1 (a hollow or ring-like view as sharp as the best
#: is not a blob).
RULE_081 = dict(RULE_080, cen_det=0.1)


def _logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def decide(s, r, c, rule: dict, h=None) -> np.ndarray:
    """Which classes of one job (scores, resolution, centre) the rule keeps; ``h``: the high-frequency power
    fraction, for a rule with ``hf`` (unlike the best when below theirs by ``hf`` in log10). ``cen_det``: the centre
    measure only for classes also that much coarser (0.8.1); ``mgap``/``mfrom``: a bar for middling jobs."""
    keep = s >= rule["min"]
    top = best_classes(s)
    best = _logit(s[top]).mean()
    best_p = 1 / (1 + np.exp(-best))
    emptier = c < np.nanmedian(c[top]) - rule["cen"]
    if rule.get("cen_det") is not None:
        emptier &= r < np.nanmedian(r[top]) - rule["cen_det"]
    unlike = (r < np.nanmedian(r[top]) - rule["det"]) | emptier
    if rule.get("blob_det") is not None:
        unlike |= (r < np.nanmedian(r[top]) - rule["blob_det"]) & (c > np.nanmedian(c[top]) + rule["blob_cen"])
    if rule.get("hf") is not None and h is not None:
        logh = np.log10(np.maximum(h, 1e-12))
        unlike |= logh < np.nanmedian(logh[top]) - rule["hf"]
    if rule.get("gap") and best_p >= rule["start"]:
        keep &= ~((s < 1 / (1 + np.exp(-(best - rule["gap"])))) & unlike)
    if rule.get("lgap") and rule["lfloor"] <= best_p < rule["lbelow"]:
        keep |= (s >= 1 / (1 + np.exp(-(best - rule["lgap"])))) & ~unlike
    if rule.get("mgap") and rule["mfrom"] <= best_p < rule["start"]:  # a bar for middling jobs (not adopted)
        keep &= s >= 1 / (1 + np.exp(-(best - rule["mgap"])))
    return keep


def relative_labels(d: pd.DataFrame) -> np.ndarray:
    from cryodiscovery_dev.simulate.truth import job_relative_labels

    return job_relative_labels(d.kind, d.purity, d.resolution_a, d.label.values.astype(bool))


def jobs_of(table: pd.DataFrame) -> dict:
    out = {}
    for job, d in table.groupby("job", sort=False):
        simulated = d.source.iloc[0] in ("sim", "early")
        out[job] = {"source": d.source.iloc[0], "s": d.score.values, "r": d.resolution_kd.values,
                    "c": d.ring_1.values, "h": d.hf_power.values, "y": d.label.values.astype(bool),
                    "yr": relative_labels(d) if simulated else d.label.values.astype(bool),
                    "kind": d.kind.values if simulated else None}
    return out


def measure(jobs: dict, rule: dict) -> dict:
    out = {}
    for source in ("sim", "early"):
        for labels in ("y", "yr"):
            lost = good = junk = bad = 0
            for j in (j for j in jobs.values() if j["source"] == source):
                keep = decide(j["s"], j["r"], j["c"], rule, j["h"])
                y = j[labels]
                lost, good = lost + (y & ~keep).sum(), good + y.sum()
                junk, bad = junk + (~y & ~keep).sum(), bad + (~y).sum()
            out[f"{source} {labels}"] = (lost / good, junk / bad)
    for name, kinds, least in (("junk-only", None, 3), ("ice-only", ["ice"], 2)):
        n = any_kept = 0
        for j in (j for j in jobs.values() if j["source"] in ("sim", "early")):
            m = ~np.isin(j["kind"], VIEW) if kinds is None else np.isin(j["kind"], kinds)
            if m.sum() >= least:
                n += 1
                any_kept += decide(j["s"][m], j["r"][m], j["c"][m], rule, j["h"][m]).any()
        out[name] = (any_kept, n)
    blobs = [j for j in jobs.values() if j["source"] == "blob"]
    out["blob probe junk removed"] = float(np.mean([(~j["y"] & ~decide(j["s"], j["r"], j["c"], rule, j["h"])).sum()
                                                    / (~j["y"]).sum() for j in blobs]))
    out["real"] = {name: (int((j["y"] & ~keep).sum()), round(float((~j["y"] & ~keep).sum() / max((~j["y"]).sum(), 1)), 2))
                   for name, j in jobs.items() if j["source"] == "real"
                   for keep in [decide(j["s"], j["r"], j["c"], rule, j["h"])]}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, default=Path("corpus_cache/decision_table.pkl"))
    args = parser.parse_args()
    jobs = jobs_of(pd.read_pickle(args.table))
    rules = {
        "0.7.0": RULE_070,
        "lowered bar, best in [0.15, 0.5)": {**RULE_070, **LOWERED, "lfloor": 0.15},
        "lowered bar, best in [0.2, 0.5)": dict(RULE_070, **LOWERED),
        "... and a blob: coarser by 0.15, denser by 0.2 (0.8.0)": RULE_080,
        "... blob 0.15 / 0.3": dict(RULE_080, blob_cen=0.3),
        "... blob 0.12 / 0.3": dict(RULE_080, blob_det=0.12, blob_cen=0.3),
        "0.8.0 without the centre rule": dict(RULE_080, cen=np.inf),
        **{f"0.8.0, the centre rule only for classes also coarser by {x}": dict(RULE_080, cen_det=x)
           for x in (0.05, 0.08, 0.1, 0.12)},
        "0.8.1 (the centre rule only for classes also coarser by 0.1), strict's margins": dict(
            RULE_081, det=0.15, cen=0.3, lgap=None),
        "0.8.0, strict's margins": dict(RULE_080, det=0.15, cen=0.3, lgap=None),
        **{f"0.8.1, and every class {g} logits below the best in jobs whose best score in [0.5, 0.95)": dict(
            RULE_081, mgap=g, mfrom=0.5) for g in (3.5, 3.0, 2.5)},
        **{f"0.8.0, and less high-frequency power than the best by {x} (log10)": dict(RULE_080, hf=x)
           for x in (0.4, 0.5, 0.6, 0.7)},
    }
    base = measure(jobs, RULE_070)["real"]
    for name, rule in rules.items():
        m = measure(jobs, rule)
        changed = {k: f"{base[k]} -> {v}" for k, v in m.pop("real").items() if v != base[k]}
        print(name)
        for key, value in m.items():
            print(f"    {key}: {np.round(value, 3).tolist() if isinstance(value, tuple) else round(value, 3)}")
        print(f"    real sets changed (lost, junk removed): {changed or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
