"""A job's classes -> network inputs: the one implementation shared by select, train and evaluate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..relion.classes import ClassSet
from .features import class_features
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
