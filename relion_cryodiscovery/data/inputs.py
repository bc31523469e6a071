"""A job's classes -> network inputs: the one implementation shared by select, train and evaluate."""

from __future__ import annotations

from dataclasses import dataclass, replace

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


def model_inputs(classes: ClassSet, config: PreprocessConfig = PreprocessConfig()) -> ModelInputs:
    """Normalise the class images and compute their features."""
    prepared = prepare_images(
        classes.images, classes.dimensionality, classes.pixel_size, classes.particle_diameter, config
    )
    features = class_features(classes, prepared.images, prepared.usable)
    return ModelInputs(prepared.images, features, prepared.usable, prepared.problems)


def oriented_model_inputs(classes: ClassSet, config: PreprocessConfig = PreprocessConfig(),
                          contrast: str = "auto") -> tuple[ModelInputs, Polarity]:
    """:func:`model_inputs` the right way up: a job whose contrast is inverted (detected, or ``contrast``
    forced; :mod:`.polarity`) gets the inputs of its flipped images. ``classes`` is not changed."""
    inputs = model_inputs(classes, config)
    polarity = job_polarity(inputs.features, inputs.usable, contrast)
    if polarity.inverted:
        inputs = model_inputs(replace(classes, images=-classes.images), config)
    return inputs, polarity
