#!/usr/bin/env python3
"""Measure the out-of-domain check, signal by signal and combined: what it catches and what it leaves quiet.

    python scripts/fit_domain_reference.py --model models/default --lab corpus_cache/lab --o /tmp/domain_ref_0.5.1
    python scripts/domain_check_demo.py --model /tmp/domain_ref_0.5.1 --lab corpus_cache/lab

Detection: jobs of inputs that are not cryo-EM class averages
(:mod:`cryodiscovery_dev.simulate.not_class_averages`), ``--seeds`` jobs per kind and size.
False alarms: the held-out lab jobs (``corpus_cache/lab/test.npz``: structures never trained on), sets of
1-3 classes drawn from them (any classes, and good classes only), the real relion_refine hold-out jobs
(``corpus/relion*``, unless ``--skip_relion``), the bundled example job, and every real set
(``../shared/real``, ``../real_extra``) plus the T20S set with inverted contrast. Prints markdown tables
for ``docs/model_card_notes.md``. ``--networks`` adds the d1/d2 disagreement (reported, never flagging).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

SIGNALS = ("reconstruction", "solvent", "features")
#: Table columns: each signal, the two view signals together, no usable class, the check's verdict.
COLUMNS = (*SIGNALS, "views", "no usable class", "combined")


def fired(check) -> dict[str, bool]:
    """Column -> whether it fired for this job."""
    out = {s.name: s.fired for s in check.all_signals}
    flags = {name: out.get(name, False) for name in SIGNALS}
    return {**flags, "views": flags["reconstruction"] or flags["solvent"], "no usable class": check.no_usable_class,
            "combined": check.out_of_domain}


def values(check) -> str:
    if check.no_usable_class:
        return "no usable class"
    return ", ".join(f"{s.name[:5]} {s.value:.3g}/{s.threshold:.3g}" for s in check.all_signals)


class Checker:
    """The check against one model's reference, optionally with its networks for the disagreement."""

    def __init__(self, model: Path, networks: bool):
        from relion_cryodiscovery.model.card import ModelCard
        from relion_cryodiscovery.model.domain import DomainReference

        self.card = ModelCard.load(model)
        self.reference = DomainReference.from_card(self.card.extra.get("domain"), model)
        if self.reference is None or self.reference.views is None:
            raise SystemExit(f"{model} has no view reference: run scripts/fit_domain_reference.py first")
        self.ensemble = None
        if networks:
            from relion_cryodiscovery.model.ensemble import BoostedEnsemble

            self.ensemble = BoostedEnsemble.load(model)

    def __call__(self, images: np.ndarray, features: np.ndarray, unusable: int = 0):
        from relion_cryodiscovery.model.domain import check_job

        p1 = p2 = np.zeros(len(features))
        if self.ensemble is not None and len(features):
            scores = self.ensemble.predict(np.asarray(images, np.float32), features)
            p1, p2 = scores.p_d1, scores.p_d2
        return check_job(features, p1, p2, self.reference, images, unusable=unusable)

    def classes(self, classes):
        from relion_cryodiscovery.data.inputs import model_inputs
        from relion_cryodiscovery.data.preprocess import PreprocessConfig

        inputs = model_inputs(classes, PreprocessConfig.from_dict(self.card.preprocessing))
        u = inputs.usable
        return self(inputs.images[u], inputs.features[u], int((~u).sum()))


def rate(flags: list[dict[str, bool]], key: str) -> str:
    return f"{sum(f[key] for f in flags)}/{len(flags)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--lab", type=Path, default=REPO / "corpus_cache" / "lab")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "real")
    parser.add_argument("--extra", type=Path, default=REPO.parent / "real_extra")
    parser.add_argument("--seeds", type=int, default=10, help="probe jobs per kind and size")
    parser.add_argument("--skip_relion", action="store_true", help="skip the relion_refine hold-out")
    parser.add_argument("--networks", action="store_true", help="run d1/d2 for the disagreement rate")
    args = parser.parse_args()

    from relion_cryodiscovery.evaluation.real_sets import load_real_sets
    from relion_cryodiscovery.relion.classes import ClassSet
    from relion_cryodiscovery.relion.job import locate_job, read_job
    from cryodiscovery_dev.simulate.not_class_averages import PROBE_KINDS, probe_job

    check = Checker(args.model, args.networks)
    header = "| input | jobs | " + " | ".join(COLUMNS[:-1]) + " | **combined** |"
    rule = "|---|---|" + "---|" * len(COLUMNS)

    print(f"### Detection: jobs that are not cryo-EM class averages (model {check.card.model_version})\n")
    print(header.replace("| input |", "| input (images per job) |"))
    print(rule)
    for kind in PROBE_KINDS:
        for n in (20, 50, 3, 2, 1):
            flags = [fired(check.classes(probe_job(kind, n, 1000 * n + seed))) for seed in range(args.seeds)]
            cells = [rate(flags, key) for key in COLUMNS]
            print(f"| {kind} ({n}) | {len(flags)} | " + " | ".join(cells[:-1]) + f" | **{cells[-1]}** |", flush=True)

    print("\n### False alarms: cryo-EM class averages\n")
    print(header + " values / thresholds |")
    print(rule + "---|")
    rows: list[tuple[str, list[dict[str, bool]], str]] = []
    test = args.lab / "test.npz"
    if test.is_file():
        z = np.load(test)
        images, features, labels, groups = z["images"], z["features"], z["labels"], z["groups"]
        jobs = [np.flatnonzero(groups == g) for g in np.unique(groups)]
        checks = [check(images[j].astype(np.float32), features[j]) for j in jobs]
        disagreement = (f"d1/d2 disagreement median {np.median([c.disagreement for c in checks]):.2f}"
                        if args.networks else "")
        rows.append((f"lab hold-out jobs (test.npz, {len(jobs)} jobs)", [fired(c) for c in checks], disagreement))
        rng = np.random.default_rng(0)
        for n in (1, 2, 3):
            for good_only in (False, True):
                draws = []
                for _ in range(300):
                    j = jobs[rng.integers(len(jobs))]
                    pool = j[labels[j] == 1] if good_only else j
                    if len(pool) >= n:
                        pick = rng.choice(pool, n, replace=False)
                        draws.append(fired(check(images[pick].astype(np.float32), features[pick])))
                rows.append((f"{n} {'good ' if good_only else ''}classes drawn from a lab hold-out job", draws, ""))
    if not args.skip_relion and (REPO / "corpus").is_dir():
        from cryodiscovery_dev.holdout import read_projects, real_projects, split_projects
        from relion_cryodiscovery.data.preprocess import PreprocessConfig

        _, test_projects = split_projects(real_projects(REPO))
        relion = defaultdict(list)
        for job in read_projects(test_projects, PreprocessConfig.from_dict(check.card.preprocessing)):
            u = job.inputs.usable
            if u.any():
                relion[job.dimensionality].append(fired(check(job.inputs.images[u], job.inputs.features[u])))
        for dim, flags in sorted(relion.items()):
            rows.append((f"relion_refine hold-out, Class{dim}D jobs", flags, ""))
    example = read_job(locate_job(REPO / "examples" / "class2d_small" / "Class2D" / "job001"))
    result = check.classes(example.classes)
    rows.append(("bundled example (examples/class2d_small)", [fired(result)], values(result)))
    for real in load_real_sets(args.shared, args.extra):
        result = check.classes(real.classes)
        rows.append((f"real: {real.spec.name} ({real.classes.n_classes})", [fired(result)], values(result)))
        if real.spec.name == "t20s_cryosparc_select2d":
            c = real.classes
            inverted = ClassSet(2, c.class_numbers, -c.images, c.pixel_size, c.particle_diameter, c.metadata,
                                c.particle_counts, source=c.source)
            result = check.classes(inverted)
            rows.append((f"real: {real.spec.name} x -1 (inverted contrast)", [fired(result)], values(result)))
    for name, flags, note in rows:
        cells = [rate(flags, key) for key in COLUMNS]
        print(f"| {name} | {len(flags)} | " + " | ".join(cells[:-1]) + f" | **{cells[-1]}** | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
