"""Train (or fine-tune) the boosted ensemble from labelled RELION jobs: the ``train`` command's library API.

Labelled jobs -> network inputs (the same :func:`~relion_cryodiscovery.data.inputs.model_inputs`
the select job uses) -> split by job/structure -> :func:`train_boosted_ensemble` -> a model
directory (``d1.keras``, ``d2.keras``, ``d3.keras``, ``model_card.json``, ``splits.json``) that
``select`` and ``score`` use with no other input. Held-out test jobs, when there are enough
groups, are scored at the end and their metrics written into the card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.features import FEATURE_FILLS, FEATURE_NAMES, n_feature_inputs
from ..data.preprocess import PreprocessConfig
from ..errors import CryoDiscoveryError
from .corpus import (LabelledJob, LabelledJobSource, discover_project, read_labelled_job, read_manifest,
                     split_by_group, split_classes, subset_classes)


@dataclass
class TrainOptions:
    """Everything the ``train`` command can set."""

    out_dir: Path
    projects: list[Path] = field(default_factory=list)
    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float | None = None
    init_from: Path | None = None
    resume: bool = False
    gpus: str = ""
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    model_version: str = "custom"
    verbose: int = 1
    network: dict = field(default_factory=dict)
    #: Particle-count scale augmentation in decades (``TrainConfig.count_shift``; 0 = off).
    count_shift: float = 0.0


def collect_sources(options: TrainOptions) -> list[LabelledJobSource]:
    """All labelled jobs named by projects, pairs and manifests (duplicates dropped)."""
    sources: list[LabelledJobSource] = []
    for project in options.projects:
        found = discover_project(project)
        if not found:
            raise CryoDiscoveryError(project / "default_pipeline.star", "records no Select job that took a Class2D/Class3D job as input")
        sources += found
    sources += [LabelledJobSource(job, selection, str(job)) for job, selection in options.pairs]
    for manifest in options.manifests:
        sources += read_manifest(manifest)
    unique = {(s.job.resolve(), s.selection.resolve()): s for s in sources}
    if not unique:
        raise CryoDiscoveryError(None, "no training data: give --project, --job/--selection pairs or --manifest")
    return list(unique.values())


def to_arrays(jobs: list[LabelledJob]):
    """Concatenate jobs into :class:`TrainingArrays` (unusable, i.e. empty, class images left out).

    When all jobs have the same number of views per class (all 2D, or all 3D) a class's views
    stay together, so boosting picks its stage sets class by class. A mix of 2D and 3D jobs is
    trained view by view (each view labelled with its class), which is consistent with inference
    averaging a class's per-view probabilities.
    """
    from .trainer import TrainingArrays

    per_view = len({job.inputs.images.shape[1] for job in jobs}) > 1
    images, features, labels, groups = [], [], [], []
    for job in jobs:
        usable = job.inputs.usable
        views = job.inputs.images[usable]
        repeat = views.shape[1] if per_view else 1
        images.append(views.reshape(-1, 1, *views.shape[2:]) if per_view else views)
        features.append(np.repeat(job.inputs.features[usable], repeat, axis=0))
        labels.append(np.repeat(job.labels[usable], repeat))
        groups.append(np.repeat(job.source.group, usable.sum() * repeat))
    return TrainingArrays(np.concatenate(images), np.concatenate(features), np.concatenate(labels),
                          np.concatenate(groups))


def split_one_job(job: LabelledJob, options: TrainOptions, log: Callable[[str], None]):
    """Fine-tuning on a single labelled job: its classes split into training and validation
    (stratified by label, seeded; no test set). ((train, validation, test) job lists, the split's record)."""
    train_rows, val_rows = split_classes(job, options.val_fraction, options.seed)
    if not len(train_rows) or not len(val_rows):
        raise CryoDiscoveryError(job.source.job, "has too few usable labelled classes to split into training and "
                                                 "validation (a single job needs at least 2 classes of one label)")
    record = {
        "method": "one labelled job: its classes split into training and validation, stratified by label "
                  f"(seed {options.seed}, validation fraction {options.val_fraction}); no test set",
        "job": str(job.source.job),
        "train_classes": [int(i) + 1 for i in train_rows],
        "validation_classes": [int(i) + 1 for i in val_rows],
    }
    log(f"one labelled job ({job.source.job}): fine-tuning on {len(train_rows)} of its classes, validating on the "
        f"other {len(val_rows)} (stratified by label, seed {options.seed}); no test set")
    return ([subset_classes(job, train_rows)], [subset_classes(job, val_rows)], []), record


def train_model(options: TrainOptions, log: Callable[[str], None] = print, should_abort=None):
    """Read, split, train, calibrate and write a model directory; returns the ensemble."""
    from ..evaluation.metrics import classification_metrics
    from ..model.distribute import is_chief, make_strategy

    # First, before anything initialises TensorFlow: MultiWorkerMirroredStrategy (TF_CONFIG) and
    # logical CPU devices ("cpu:N") can only be set up at program start.
    strategy = make_strategy(options.gpus or None)
    from ..model.ensemble import BoostedEnsemble
    from ..model.network import NetworkConfig
    from .boosting import BoostingConfig, train_boosted_ensemble
    from .trainer import TrainConfig

    from ..model.shipped import default_model_dir

    if options.init_from is not None and str(options.init_from) == "default":
        options.init_from = default_model_dir()
    init_from = BoostedEnsemble.load(options.init_from) if options.init_from else None
    if init_from is not None and list(init_from.card.feature_names) != list(FEATURE_NAMES):
        raise CryoDiscoveryError(options.init_from, "was trained on other features than this version computes")
    preprocess = PreprocessConfig.from_dict(init_from.card.preprocessing) if init_from else PreprocessConfig()
    sources = collect_sources(options)
    log(f"reading {len(sources)} labelled job(s)")
    jobs = [read_labelled_job(source, preprocess) for source in sources]
    train_jobs, val_jobs, test_jobs = split_by_group(
        jobs, (1.0 - options.val_fraction - options.test_fraction, options.val_fraction, options.test_fraction),
        options.seed,
    )
    class_split: dict | None = None
    if not train_jobs or not val_jobs:
        if len(jobs) != 1 or init_from is None:
            groups = len({job.source.group for job in jobs})
            raise CryoDiscoveryError(
                None, f"need labelled classes from at least 2 separate jobs (found {groups}): validation is held out "
                      "by job; with --init_from (fine-tuning) a single job is enough (its classes are then split)"
            )
        (train_jobs, val_jobs, test_jobs), class_split = split_one_job(jobs[0], options, log)
    chief = is_chief(strategy)  # with several workers only the chief writes options.out_dir
    splits = {name: [str(j.source.job) for j in part] for name, part in
              (("train", train_jobs), ("validation", val_jobs), ("test", test_jobs))}
    if class_split is not None:
        splits["class_split"] = class_split
    if chief:
        options.out_dir.mkdir(parents=True, exist_ok=True)
        (options.out_dir / "splits.json").write_text(json.dumps(splits, indent=1))
    train, val = to_arrays(train_jobs), to_arrays(val_jobs)
    log(f"train: {len(train)} images from {len(train_jobs)} jobs ({int(train.labels.sum())} good); "
        f"validation: {len(val)} from {len(val_jobs)} jobs; test: {len(test_jobs)} jobs")
    network = NetworkConfig(**init_from.card.network) if init_from else NetworkConfig(**options.network)
    train_config = TrainConfig(epochs=options.epochs, batch_size=options.batch_size, seed=options.seed,
                               verbose=options.verbose, count_shift=options.count_shift,
                               **({"learning_rate": options.learning_rate} if options.learning_rate else {}))
    config = BoostingConfig(network=network, train=train_config, model_version=options.model_version)
    files = sorted({f for job in jobs for f in job.file_hashes})
    ensemble = train_boosted_ensemble(
        train, val, config, strategy, options.out_dir, resume=options.resume, init_from=init_from, log=log,
        feature_names=list(FEATURE_NAMES), feature_fills=[float(x) for x in FEATURE_FILLS],
        preprocessing=preprocess.to_dict(), data_files=files, should_abort=should_abort,
    )
    assert ensemble.card.n_features == n_feature_inputs()
    if class_split is not None:
        ensemble.card.extra["split"] = class_split
        if chief:
            ensemble.card.save(options.out_dir)
    if test_jobs:
        truth, scores, counts, selected = [], [], [], []
        for job in test_jobs:
            usable = job.inputs.usable
            result = ensemble.predict(job.inputs.images[usable], job.inputs.features[usable], strategy=strategy)
            truth.append(job.labels[usable])
            scores.append(result.calibrated)
            selected.append(result.calibrated >= ensemble.threshold)
            counts.append(job.particle_counts[usable] if job.particle_counts is not None else np.ones(usable.sum()))
        report = classification_metrics(np.concatenate(truth), np.concatenate(selected), np.concatenate(scores),
                                        np.concatenate(counts)).to_dict()
        ensemble.card.extra["test_metrics"] = report
        ensemble.card.extra["test_jobs"] = splits["test"]
        if chief:
            ensemble.card.save(options.out_dir)
        log(f"held-out test jobs: {json.dumps({k: v for k, v in report.items() if not isinstance(v, (list, dict))})}")
    return ensemble
