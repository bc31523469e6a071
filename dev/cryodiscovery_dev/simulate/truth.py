"""The simulators' labelling rules, side by side: which simulated class a person would keep.

There is one simulator of class averages (:mod:`.lab_classes`, also behind the small RELION projects of
:mod:`.class_average_jobs`); the other class averages are RELION's own, of simulated particles. The two need
two rules, because they know different things about a class:

* **Particle purity** (:func:`class_table`, :data:`LABEL_RULE`), for the projects run through ``relion_refine``
  (the bundled example, the real Class2D/Class3D corpus): each particle is simulated, so a class's truth is which
  of its particles are true particles; its resolution is whatever RELION reached and is not known in closed form.
* **What the class shows** (:func:`label_is_good`, :data:`VIEW_LABEL_RULE`), for the class averages formed
  analytically (:mod:`.lab_classes`: the shipped model's corpus, the probes, the tests' and benchmarks'
  projects): each class is one kind (a particle view, or a junk kind) of known resolution, so the rule is what a
  person sees: a clean particle view that shows detail for its size. Purity alone would call a blurred view of
  true particles good, which a person rejects.
* **Relative to the job** (:func:`job_relative_labels`), on top of the second: a person judges a class beside the
  best classes of its job (issue #20), so a 12 A blob of a 4 A job is junk, and in a first round where no class
  shows secondary structure the views that show the particle are kept.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------------------------
# relion_refine projects: purity of the class's particles

#: A class is labelled good (1) when at least this fraction of its particles are true particles ...
MIN_PURITY = 0.8
#: ... and it holds at least this many particles.
MIN_PARTICLES = 10
LABEL_RULE = f"label = 1 when purity >= {MIN_PURITY} and n_particles >= {MIN_PARTICLES}, else 0"


def class_table(class_numbers: np.ndarray, is_good: np.ndarray, n_classes: int) -> pd.DataFrame:
    """``class_number,label,purity,n_particles,n_good_particles`` for classes 1..n_classes."""
    class_numbers = np.asarray(class_numbers, int)
    is_good = np.asarray(is_good, bool)
    n = np.bincount(class_numbers, minlength=n_classes + 1)[1:]
    n_good = np.bincount(class_numbers, weights=is_good, minlength=n_classes + 1)[1:].astype(int)
    purity = np.divide(n_good, n, out=np.zeros(n_classes), where=n > 0)
    return pd.DataFrame({
        "class_number": np.arange(1, n_classes + 1),
        "label": ((purity >= MIN_PURITY) & (n >= MIN_PARTICLES)).astype(int),
        "purity": purity.round(4), "n_particles": n, "n_good_particles": n_good,
    })


# ---------------------------------------------------------------------------------------------
# Lab-like class averages: what the class shows

PARTICLE = "particle"
#: The kinds that are views of the particle (a mixture or a misaligned class is judged by its view).
VIEW_KINDS = (PARTICLE, "mixed", "misaligned")
#: Purity at and above which a mixed class is labelled by its particle view.
GOOD_PURITY = 0.75
#: A particle class is good when its resolution is at most this (A), three pixels or a ninth of its diameter.
GOOD_RESOLUTION_A = 12.0
GOOD_RESOLUTION_NYQUIST_FACTOR = 3.0
#: (1/15 was tried with simulator 2, since 1/9 calls the 14-17 A classes of a 140 A particle good that an expert
#: grades bad (Magellon); the model trained on it scored those classes no lower and ranked the RELION tutorial's
#: job008 below the class distribution, so 1/9 stays: docs/model_card_notes.md)
GOOD_RESOLUTION_DIAMETER_FRACTION = 1.0 / 9.0
#: :func:`label_is_good` in words (written into the small RELION projects' Select jobs).
VIEW_LABEL_RULE = (f"label = 1 when a particle view (purity >= {GOOD_PURITY}) resolved to at most "
                   f"{GOOD_RESOLUTION_A:g} A, {GOOD_RESOLUTION_NYQUIST_FACTOR:g} px or "
                   f"1/{1 / GOOD_RESOLUTION_DIAMETER_FRACTION:g} of its diameter, else 0")


def is_particle_view(kind: str, purity: float) -> bool:
    """Whether a class is a view of the particle (:data:`VIEW_KINDS`, purity >= :data:`GOOD_PURITY`)."""
    return kind in VIEW_KINDS and purity >= GOOD_PURITY


def label_is_good(kind: str, purity: float, resolution_a: float, pixel_size: float, diameter_a: float) -> bool:
    """The labelling rule: a clean particle view that shows detail for its size: it resolves secondary
    structure (``GOOD_RESOLUTION_A``), or reaches three pixels (binned data), or shows
    detail a ``GOOD_RESOLUTION_DIAMETER_FRACTION`` of the particle across (large complexes)."""
    if not is_particle_view(kind, purity):
        return False
    return resolution_a <= max(GOOD_RESOLUTION_A, GOOD_RESOLUTION_NYQUIST_FACTOR * pixel_size,
                               GOOD_RESOLUTION_DIAMETER_FRACTION * diameter_a)


# ---------------------------------------------------------------------------------------------
# Relative to the job

#: In a job with good classes, a good class is kept only within this factor of the job's sharpest good class.
RELATIVE_REACH = 2.0
#: In a job without any (an early round), the particle views within this factor of its sharpest view are good.
WEAK_JOB_REACH = 1.5


def job_relative_labels(kinds: Sequence[str], purity: Sequence[float], resolution_a: Sequence[float],
                        good: Sequence[bool]) -> np.ndarray:
    """Labels of one job's classes relative to the job, from their kinds, purities, resolutions (A) and
    :func:`label_is_good` labels: a good class more than :data:`RELATIVE_REACH` times coarser than the job's
    sharpest good class is junk; a job with no good class keeps its particle views within
    :data:`WEAK_JOB_REACH` times its sharpest view's resolution; a job with no particle view keeps nothing."""
    good = np.asarray(good, bool)
    resolution = np.asarray(resolution_a, float)
    views = np.array([is_particle_view(k, p) for k, p in zip(kinds, purity)], dtype=bool)
    if good.any():
        return good & (resolution <= RELATIVE_REACH * resolution[good].min())
    if views.any():
        return views & (resolution <= WEAK_JOB_REACH * resolution[views].min())
    return np.zeros(len(good), dtype=bool)
