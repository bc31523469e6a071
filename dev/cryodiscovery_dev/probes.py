"""Semi-real and simulated probe jobs for the decision rules (issue #20).

* :func:`blob_jobs`: each positive-only cryoSPARC set's sharp classes beside Gaussian-blurred copies of
  themselves, as a bare stack: the featureless low-resolution blobs a person rejects beside the sharp classes of
  the same job (``scripts/evaluate_model.py``'s blob probe).
* :func:`early_round_spec`: a first-round lab-like Class2D job (few particles per class, coarse classes).
* :func:`tight_box_spec`: a lab-like job boxed tightly (the particle fills 85-100% of the box).
* :func:`simulated_jobs`: such jobs simulated as model inputs with their truth (:func:`truth_labels`).
* :func:`junk_only`: a job made of another job's junk classes alone (a job of only junk must keep nothing).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterator

import numpy as np

#: The blob probe's blurs: Gaussian sigma = box / each of these.
BLOB_BLURS = (60, 40, 25)


def blob_jobs(real_sets) -> Iterator[tuple[str, int, object, np.ndarray]]:
    """(set name, blur, class set, labels) of every blob-probe job: 1 for the sharp classes, 0 for the blurred."""
    from scipy import ndimage

    for real in real_sets:
        if not (real.spec.positives_only and real.spec.name.startswith(("t20s_cryosparc", "cryosparc_"))) \
                or real.spec.name.endswith("inverted"):
            continue
        sharp = real.classes.images.astype(np.float32)
        for blur in BLOB_BLURS:
            blobs = np.stack([ndimage.gaussian_filter(image, sharp.shape[-1] / blur) for image in sharp])
            images = np.concatenate([sharp, blobs])
            classes = replace(real.classes, images=images, class_numbers=np.arange(1, len(images) + 1), metadata={},
                              particle_counts=None)
            yield real.spec.name, blur, classes, np.r_[np.ones(len(sharp)), np.zeros(len(blobs))]


def early_round_spec(rng: np.random.Generator, seed: int, models: list[str]):
    """A first-round Class2D job: 10-40 classes of 150-2,500 particles each and a strong B-factor, otherwise
    drawn as :func:`cryodiscovery_dev.simulate.lab_classes.random_job_spec` draws a lab's job."""
    from .simulate import lab_classes

    spec = lab_classes.random_job_spec(rng, seed, models)
    k = int(rng.integers(10, 41))
    per_class = float(np.exp(rng.uniform(np.log(150), np.log(2500))))
    return replace(spec, n_classes=k, n_particles=int(per_class * k), bfactor=round(float(rng.uniform(150, 400)), 1),
                   junk_fraction=round(float(rng.uniform(0.1, 0.6)), 3))


def tight_box_spec(rng: np.random.Generator, seed: int, models: list[str]):
    """A job boxed tightly: its largest particle fills 85-100% of the box (a lab that boxes close, or a
    mixture's larger complex in a box sized for the smaller), otherwise drawn as
    :func:`cryodiscovery_dev.simulate.lab_classes.random_job_spec` draws a lab's job; the pixel size is kept
    unless the box would leave 64-400 px."""
    from .simulate import lab_classes

    spec = lab_classes.random_job_spec(rng, seed, models)
    fill = float(rng.uniform(0.85, 1.0))
    box = int(np.clip(2 * round(spec.diameter_a / fill / spec.pixel_size / 2), 64, 400))
    pixel = round(spec.diameter_a / fill / box, 3)
    return replace(spec, box=box, pixel_size=pixel)


#: The early-round probe's jobs: seeds EARLY_SEED.. of held-out structures (``scripts/evaluate_model.py``).
EARLY_SEED = 30_000


def simulated_jobs(spec_of, seeds, models: list[str]):
    """Each seed's job drawn by ``spec_of(rng, seed, models)`` (e.g. :func:`early_round_spec`), simulated:
    yields (seed, spec, model inputs, truth rows)."""
    from relion_cryodiscovery.data.inputs import model_inputs

    from .simulate import lab_classes

    for seed in seeds:
        spec = spec_of(np.random.default_rng([seed, 1]), seed, models)
        classes, truth = lab_classes.simulate_job(spec)
        yield seed, spec, model_inputs(classes), truth


def truth_labels(truth) -> tuple[np.ndarray, np.ndarray]:
    """(the simulator's labels, job-relative labels) of one simulated job's truth rows
    (:func:`cryodiscovery_dev.simulate.truth.job_relative_labels`)."""
    from .simulate.truth import job_relative_labels

    good = np.array([c.good for c in truth], dtype=bool)
    return good, job_relative_labels([c.kind for c in truth], [c.purity for c in truth],
                                     [c.resolution_a for c in truth], good)


def junk_only(labels: np.ndarray) -> np.ndarray:
    """Indices of a job's junk classes (label 0): the classes of a junk-only probe job made from it."""
    return np.flatnonzero(np.asarray(labels) == 0)
