"""run.out says what the job-relative bars changed against ``min_score`` alone (pipeline.jobs.decide, writing.report)."""

from __future__ import annotations

import numpy as np

from relion_cryodiscovery.data.features import FEATURE_NAMES, N_FEATURES
from relion_cryodiscovery.data.inputs import ModelInputs
from relion_cryodiscovery.model.card import ModelCard
from relion_cryodiscovery.model.shipped import default_model_dir
from relion_cryodiscovery.pipeline.class_scores import ClassScores
from relion_cryodiscovery.pipeline.jobs import decide
from relion_cryodiscovery.pipeline.parameters import JobParameters
from relion_cryodiscovery.pipeline.writing import report
from relion_cryodiscovery.relion.classes import ClassSet


def _inputs(resolution: np.ndarray, centre: np.ndarray) -> ModelInputs:
    """Feature rows holding only the two measures the bar compares (every other feature missing)."""
    k = len(resolution)
    features = np.zeros((k, 2 * N_FEATURES), np.float32)
    features[:, N_FEATURES:] = 1.0  # missing
    for name, values in (("spectral_resolution_kd", resolution), ("ring_1", centre)):
        i = FEATURE_NAMES.index(name)
        features[:, i], features[:, N_FEATURES + i] = values, 0.0
    return ModelInputs(np.zeros((k, 1, 8, 8), np.float32), features, np.ones(k, bool), [""] * k)


def test_run_out_names_the_classes_the_bar_dropped_and_the_lenient_alternative(capsys):
    # a sharp job: five best classes at 0.99; a blob at 0.8 (coarser and denser at the centre) is dropped by the
    # default's bar though it is above min_score; a rare view at 0.8 as sharp as the best is kept; junk at 0.05
    scores = np.array([0.99] * 5 + [0.8, 0.8, 0.05])
    resolution = np.array([1.28] * 5 + [1.0, 1.27, 1.0])
    centre = np.array([1.5] * 5 + [2.5, 1.5, 1.5])
    numbers = np.arange(1, 9)
    classes = ClassSet(dimensionality=2, class_numbers=numbers, images=np.zeros((8, 8, 8), np.float32))
    table = ClassScores.unscored(numbers, None)
    table.score = scores.copy()
    card = ModelCard.load(default_model_dir())
    decide(classes, table, _inputs(resolution, centre), card, JobParameters())
    assert list(table.selected) == [True] * 5 + [False, True, False]
    assert table.decision_notes == [
        "the job-relative bar dropped 1 class scoring at least min_score 0.177 (class 6): below the job's best "
        "classes and unlike them; strictness lenient judges by its min_score alone"]
    report([], table, {})
    out = capsys.readouterr().out
    assert out.index("the job-relative bar dropped 1 class") < out.index("kept 6 of 8 classes")
    # an explicit min_score is absolute: no bar, nothing to say
    plain = ClassScores.unscored(numbers, None)
    plain.score = scores.copy()
    decide(classes, plain, _inputs(resolution, centre), card, JobParameters(min_score=0.5))
    assert list(plain.selected) == [True] * 7 + [False] and plain.decision_notes == []
