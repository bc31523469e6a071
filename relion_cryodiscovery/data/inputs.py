"""A job's classes -> network inputs: the one implementation shared by select, train and evaluate."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..relion.classes import ClassSet
from .features import class_features
from .polarity import Polarity, job_polarity
from .preprocess import PreprocessConfig, prepare_images


@dataclass
class ModelInputs:
    """What the ensemble sees for the K classes of one job."""

    #: (K, V, S, S) float32 normalised views (zeros where unusable).
    images: np.ndarray
    #: (K, F) float32 feature rows (values | missing flags).
    features: np.ndarray
    #: (K,) False where the class image is empty, constant or non-finite.
    usable: np.ndarray
    #: (K,) why a class is unusable ("" where usable).
    problems: list[str]


def model_inputs(classes: ClassSet, config: PreprocessConfig = PreprocessConfig(),
                 before_metadata: Callable[[], None] | None = None) -> ModelInputs:
    """Normalise the class images and compute their features. ``before_metadata`` runs once the image
    work is done, before the metadata features are read from ``classes``
    (:func:`.features.class_features`)."""
    prepared = prepare_images(
        classes.images, classes.dimensionality, classes.pixel_size, classes.particle_diameter, config
    )
    features = class_features(classes, prepared.images, prepared.usable, before_metadata)
    return ModelInputs(prepared.images, features, prepared.usable, prepared.problems)


def oriented_model_inputs(classes: ClassSet, config: PreprocessConfig = PreprocessConfig(),
                          contrast: str = "auto", before_metadata: Callable[[], None] | None = None,
                          ) -> tuple[ModelInputs, Polarity]:
    """:func:`model_inputs` the right way up: a job whose contrast is inverted (detected, or ``contrast``
    forced; :mod:`.polarity`) gets the inputs of its flipped images. ``classes`` is not changed (by
    this; ``before_metadata`` may complete it, see :func:`model_inputs`)."""
    inputs = model_inputs(classes, config, before_metadata)
    polarity = job_polarity(inputs.features, inputs.usable, contrast)
    if polarity.inverted:
        inputs = model_inputs(replace(classes, images=-classes.images), config)
    return inputs, polarity
