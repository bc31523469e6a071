"""The lab-like corpus (``scripts/make_lab_corpus.py``): its structure split, one simulated job, and its
arrays as training reads them (``scripts/train_lab_model.py``, ``scripts/fit_domain_reference.py``).

Each job draws its structures from the committed atomic models; structures are split into train and
held-out sets by the same stable hash as the real RELION corpus (:func:`.holdout.is_held_out`), so
held-out jobs only contain structures no training job has.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from relion_cryodiscovery.data.inputs import model_inputs

from .holdout import TEST_FRACTION, is_held_out
from .simulate import lab_classes
from .simulate.atomic import LEGACY_MODEL_NAMES, catalog
from .simulate.lab_models import model_pool


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
    names = model_pool()
    test = [n for n in names if n in LEGACY_MODEL_NAMES and is_held_out(f"structure:{n}")]
    new = [n for n in names if n not in LEGACY_MODEL_NAMES]
    def stratum(name: str) -> tuple[str, int]:
        mass = catalog()[name]["mass_kda"]
        return catalog()[name].get("shape", ""), int(mass >= 100) + int(mass >= 500)

    for key in sorted({stratum(n) for n in new}):
        members = sorted((n for n in new if stratum(n) == key), key=_hash_rank)
        test += members[: int(round(TEST_FRACTION * len(members)))]
    return [n for n in names if n not in test], [n for n in names if n in test]


def one_job(args: tuple) -> dict:
    """Simulate job ``seed`` (of held-out structures if ``held_out``) as network inputs, with its truth rows;
    ``keep_stack`` keeps the raw class stack. ``args`` = (seed, held_out, keep_stack[, spec_options]), the
    options being keywords of :func:`.simulate.lab_classes.random_job_spec` (none: the shipped corpus's draw)."""
    seed, held_out, keep_stack = args[:3]
    options = args[3] if len(args) > 3 else {}
    train_models, test_models = model_split()
    rng = np.random.default_rng([seed, 1])
    spec = lab_classes.random_job_spec(rng, seed, test_models if held_out else train_models, **options)
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


def corpus_truth(lab: Path, held_out: int):
    """The truth rows (``classes.csv``) of a corpus's ``train.npz`` (``held_out`` 0) or ``test.npz`` (1)
    classes, in that file's order."""
    import pandas as pd

    table = pd.read_csv(lab / "classes.csv")
    return table[table.held_out == held_out].reset_index(drop=True)


def corpus_reasons(lab: Path, held_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Reason index (:data:`relion_cryodiscovery.model.reasons.REASONS`) of every class of a corpus file
    (:func:`corpus_truth`), -1 for good classes, and each class's job."""
    from relion_cryodiscovery.model.reasons import reason_labels

    table = corpus_truth(lab, held_out)
    return reason_labels(table.kind.values, table.good.values), table.job.values


def job_relative_corpus_labels(lab: Path, held_out: int) -> np.ndarray:
    """Job-relative labels (:func:`cryodiscovery_dev.simulate.truth.job_relative_labels`) of every class of a
    corpus file (:func:`corpus_truth`)."""
    from .simulate.truth import job_relative_labels

    table = corpus_truth(lab, held_out)
    labels = np.zeros(len(table), dtype=bool)
    for _, rows in table.groupby("job", sort=False):
        labels[rows.index] = job_relative_labels(rows.kind, rows.purity, rows.resolution_a, rows.good.astype(bool))
    return labels


def corpus_junk_kinds(lab: Path, held_out: int) -> np.ndarray:
    """Whether each class of a corpus file is of a junk kind, not a particle view of any purity
    (:data:`cryodiscovery_dev.simulate.truth.VIEW_KINDS`): the classes of a junk-only probe job."""
    from .simulate.truth import VIEW_KINDS

    return ~corpus_truth(lab, held_out).kind.isin(VIEW_KINDS).values


def lab_arrays(path: Path):
    """A corpus file (``train.npz``/``test.npz``) as :class:`~relion_cryodiscovery.training.trainer.TrainingArrays`."""
    from relion_cryodiscovery.training.trainer import TrainingArrays

    z = np.load(path)
    return TrainingArrays(z["images"].astype(np.float32), z["features"], z["labels"], z["groups"])


def split_val(arrays, fraction: float, seed: int):
    """(train, validation): about ``fraction`` of the jobs (groups) drawn with ``seed`` for validation."""
    groups = np.array(sorted(set(arrays.groups.tolist())))
    rng = np.random.default_rng(seed)
    val_groups = set(rng.choice(groups, size=max(1, int(round(fraction * len(groups)))), replace=False).tolist())
    is_val = np.array([g in val_groups for g in arrays.groups])
    return arrays.subset(np.flatnonzero(~is_val)), arrays.subset(np.flatnonzero(is_val))


def concat(parts):
    """The classes of several ``TrainingArrays`` in one (sample weights kept when any part has them)."""
    from relion_cryodiscovery.training.trainer import TrainingArrays

    weights = None
    if any(p.weights is not None for p in parts):
        weights = np.concatenate([p.sample_weights() for p in parts])
    return TrainingArrays(np.concatenate([p.images for p in parts]), np.concatenate([p.features for p in parts]),
                          np.concatenate([p.labels for p in parts]), np.concatenate([p.groups for p in parts]),
                          weights)
