#!/usr/bin/env python3
"""Fit the out-of-domain reference of a model directory from its training data, without retraining.

    python scripts/fit_domain_reference.py --model models/default --lab corpus_cache/lab
    python scripts/fit_domain_reference.py --model models/default --lab corpus_cache/lab --o /tmp/domain_ref_0.5.1

Rebuilds the training and validation jobs as ``scripts/train_lab_model.py`` splits them (the lab corpus,
and the real relion_refine corpus unless ``--no_real_corpus``; the same seed), fits the view signals'
reference (:func:`relion_cryodiscovery.model.domain.fit_domain_reference`, the function training calls)
and writes it into the model directory (or a copy of it, ``--o``): ``domain_reference.npz`` and
``extra["domain"]`` of ``model_card.json``. The card's feature-distance reference is kept as it is
unless ``--refit_features``. Then checks the result on a few non-cryo-EM probe jobs and the bundled
example job, and prints the thresholds.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def training_jobs(lab: Path, seed: int, real_corpus: bool):
    """(train, val) ``TrainingArrays`` as ``train_lab_model.py`` builds them."""
    from cryodiscovery_dev.lab_corpus import concat, lab_arrays, split_val

    lab_train, lab_val = split_val(lab_arrays(lab / "train.npz"), 0.15, seed)
    parts_train, parts_val = [lab_train], [lab_val]
    if real_corpus:
        from cryodiscovery_dev.holdout import read_projects, real_projects, split_projects
        from relion_cryodiscovery.data.preprocess import PreprocessConfig
        from relion_cryodiscovery.training.run import to_arrays

        train_projects, _ = split_projects(real_projects(REPO))
        jobs = read_projects(train_projects, PreprocessConfig())
        real_tr, real_va = split_val(to_arrays([j for j in jobs if j.dimensionality == 2]), 0.15, seed + 1)
        parts_train.append(real_tr)
        parts_val.append(real_va)
        jobs3d = [j for j in jobs if j.dimensionality == 3]
        if jobs3d:  # 3D classes: each of their 6 views is a sample labelled with its class
            real3d = to_arrays(jobs3d)
            flat = type(real3d)(real3d.images.reshape(-1, 1, *real3d.images.shape[2:]),
                                np.repeat(real3d.features, real3d.n_views, 0), np.repeat(real3d.labels, real3d.n_views),
                                np.repeat(real3d.groups, real3d.n_views))
            tr3, va3 = split_val(flat, 0.2, seed + 2)
            parts_train.append(tr3)
            parts_val.append(va3)
    return concat(parts_train), concat(parts_val)


def probe_report(model_dir: Path) -> None:
    """The check on non-cryo-EM probe jobs (20 and 2 images) and on the bundled example job."""
    from relion_cryodiscovery.data.inputs import model_inputs
    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.domain import check_job
    from relion_cryodiscovery.relion.job import locate_job, read_job
    from cryodiscovery_dev.simulate.not_class_averages import PROBE_KINDS, probe_job

    reference = ModelCard.load(model_dir).extra["domain"]

    def check(classes):
        inputs = model_inputs(classes)
        u = inputs.usable
        zeros = np.zeros(int(u.sum()))
        return check_job(inputs.features[u], zeros, zeros, reference, inputs.images[u], model_dir, int((~u).sum()))

    for kind in PROBE_KINDS:
        flags = [check(probe_job(kind, n, seed)).out_of_domain for n in (20, 2) for seed in range(3)]
        print(f"  {kind:18s} flagged {sum(flags[:3])}/3 jobs of 20, {sum(flags[3:])}/3 jobs of 2")
    example = read_job(locate_job(REPO / "examples" / "class2d_small" / "Class2D" / "job001"))
    print(f"  bundled example job: {check(example.classes).summary()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model directory (d1-d3.keras, model_card.json)")
    parser.add_argument("--lab", type=Path, default=REPO / "corpus_cache" / "lab", help="make_lab_corpus.py output")
    parser.add_argument("--o", type=Path, default=None, help="write into a copy of the model directory here")
    parser.add_argument("--seed", type=int, default=20261201, help="train_lab_model.py's seed (its split)")
    parser.add_argument("--no_real_corpus", action="store_true", help="the model was trained on the lab corpus only")
    parser.add_argument("--refit_features", action="store_true", help="refit the feature distance's reference too")
    args = parser.parse_args()

    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.domain import REFERENCE_FILE, attach_domain_reference, fit_domain_reference

    target = args.model
    if args.o is not None and args.o.resolve() != args.model.resolve():
        args.o.mkdir(parents=True, exist_ok=True)
        for path in args.model.iterdir():
            if path.is_file() and path.name != REFERENCE_FILE:
                shutil.copyfile(path, args.o / path.name)
        target = args.o
    card = ModelCard.load(target)
    train, val = training_jobs(args.lab, args.seed, not args.no_real_corpus)
    print(f"train {len(train)} classes, val {len(val)} classes in {len(set(val.groups.tolist()))} jobs", flush=True)
    reference = fit_domain_reference(train.features, train.groups, val.features, val.groups, card.feature_names,
                                     train_images=train.images, val_images=val.images, train_labels=train.labels,
                                     val_labels=val.labels, seed=args.seed)
    old = card.extra.get("domain") or {}
    if not args.refit_features and old.get("distance_threshold") is not None:
        reference.features = {k: v for k, v in old.items() if k != "views"}
    entry = attach_domain_reference(target, reference, card)
    views = entry["views"]
    print(f"wrote {target / REFERENCE_FILE} (sha256 {views['sha256'][:12]}...) and extra['domain'] of "
          f"{target / 'model_card.json'}")
    print(f"thresholds: whole job {views['job_thresholds']}; jobs of 1-4 classes {views['few_class_thresholds']}; "
          f"feature distance {entry.get('distance_threshold')}")
    probe_report(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
