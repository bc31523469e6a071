#!/usr/bin/env python3
"""The out-of-distribution check on the data model 0.2.0 was trained on, and on the shipped model's.

    python scripts/domain_check_demo.py

Model 0.2.0 was fine-tuned on the real relion_refine corpus (small boxes, tens of particles per
class). Its reference here is built exactly as training builds one (:func:`fit_domain_reference`)
from that corpus's training structures, with 20% of their jobs as validation. The T20S classes, the
other real sets, and the corpus's held-out structures are then checked against it. The same
checks against the shipped model's own reference (``models/default``) follow. Prints a markdown
table for ``docs/model_card_notes.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from relion_cryodiscovery.data.inputs import model_inputs
    from relion_cryodiscovery.data.preprocess import PreprocessConfig
    from relion_cryodiscovery.evaluation.real_sets import load_real_sets
    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.domain import check_job, fit_domain_reference
    from cryodiscovery_dev.holdout import read_projects, real_projects, split_projects

    train_projects, test_projects = split_projects(real_projects(REPO))
    jobs = [j for j in read_projects(train_projects, PreprocessConfig()) if j.dimensionality == 2]
    rng = np.random.default_rng(0)
    is_val = rng.random(len(jobs)) < 0.2
    def stack(part):
        return (np.concatenate([j.inputs.features[j.inputs.usable] for j in part]),
                np.concatenate([[str(j.source.job)] * int(j.inputs.usable.sum()) for j in part]))

    train = stack([j for j, v in zip(jobs, is_val) if not v])
    val = stack([j for j, v in zip(jobs, is_val) if v])
    old_reference = fit_domain_reference(*train, *val)
    new_reference = ModelCard.load(REPO / "models" / "default").extra.get("domain")

    rows = []
    test_jobs = [j for j in read_projects(test_projects, PreprocessConfig()) if j.dimensionality == 2]
    for name, reference in (("0.2.0 training data (relion_refine corpus)", old_reference),
                            ("shipped model's training data", new_reference)):
        if reference is None:
            continue
        flagged = sum(check_job(j.inputs.features[j.inputs.usable], np.zeros(1), np.zeros(1), reference).out_of_domain
                      for j in test_jobs if j.inputs.usable.any())
        rows.append((name, f"relion_refine hold-out ({len(test_jobs)} jobs)", f"{flagged} flagged", ""))
        for real in load_real_sets(REPO.parent / "shared" / "real", REPO.parent / "real_extra"):
            features = model_inputs(real.classes).features
            check = check_job(features, np.zeros(len(features)), np.zeros(len(features)), reference)
            rows.append((name, real.spec.name, "**flagged**" if check.out_of_domain else "quiet",
                         f"{check.distance:.2f} / {check.distance_threshold:.2f}"))
    print("| reference | job | check | distance / threshold |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
