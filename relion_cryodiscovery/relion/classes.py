"""The classes of one classification job: images plus whatever metadata RELION wrote.

A :class:`ClassSet` is the hand-over point between RELION I/O and the model: the job
readers (:func:`.job.read_job`, :func:`.job.read_bare_classes`) fill it, the preprocessing and
feature code (``relion_cryodiscovery.data``) read it. It lives here, in the lowest layer, so
that reading a job needs nothing above ``relion``. Metadata that a source lacks is simply absent
from :attr:`ClassSet.metadata`; it is never filled with zeros here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Per-class columns of RELION's ``model_classes`` table that the features use.
MODEL_CLASS_COLUMNS: tuple[str, ...] = (
    "rlnClassDistribution",
    "rlnAccuracyRotations",
    "rlnAccuracyTranslationsAngst",
    "rlnAccuracyTranslations",
    "rlnEstimatedResolution",
    "rlnOverallFourierCompleteness",
)


@dataclass
class ClassSet:
    """Images and metadata of the K classes of one job, in class order (class numbers 1..K)."""

    #: 2 for Class2D averages, 3 for Class3D maps.
    dimensionality: int
    #: (K,) RELION class numbers, 1-based.
    class_numbers: np.ndarray
    #: (K, N, N) for 2D or (K, N, N, N) for 3D, float32, as RELION wrote them.
    images: np.ndarray
    #: Pixel size of the images in Angstrom, or None when unknown.
    pixel_size: float | None = None
    #: Particle (mask) diameter in Angstrom from the optimiser, or None when unknown.
    particle_diameter: float | None = None
    #: Per-class metadata columns by RELION label without the leading underscore.
    metadata: dict[str, np.ndarray] = field(default_factory=dict)
    #: (K,) particles per class counted from ``rlnClassNumber`` in data.star, or None.
    particle_counts: np.ndarray | None = None
    #: Job-level metadata (e.g. ``rlnCurrentResolution``, ``rlnNrClasses``) when known.
    job_metadata: dict[str, float] = field(default_factory=dict)
    #: Where the classes came from (a path), for messages and provenance.
    source: str = ""

    def __post_init__(self) -> None:
        self.class_numbers = np.asarray(self.class_numbers, dtype=np.int64)
        self.images = np.asarray(self.images, dtype=np.float32)
        k = len(self.class_numbers)
        if self.images.shape[0] != k:
            raise ValueError(f"{k} class numbers but {self.images.shape[0]} class images")
        if self.images.ndim != self.dimensionality + 1:
            raise ValueError(f"{self.dimensionality}D classes need {self.dimensionality + 1}-d image array")
        for name, values in self.metadata.items():
            if len(values) != k:
                raise ValueError(f"metadata column {name} has {len(values)} values for {k} classes")
        if self.particle_counts is not None:
            self.particle_counts = np.asarray(self.particle_counts, dtype=np.int64)

    @property
    def n_classes(self) -> int:
        return int(len(self.class_numbers))

    @property
    def box_size(self) -> int:
        return int(self.images.shape[-1])
