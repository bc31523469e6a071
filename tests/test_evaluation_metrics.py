"""Classification metrics: hand-computed values, AUC cross-check, calibration, degenerate cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from relion_cryodiscovery.evaluation.metrics import (
    average_precision,
    classification_metrics,
    confusion_matrix,
    expected_calibration_error,
    particle_fractions,
    roc_auc,
)


def brute_force_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """P(score of a random good > score of a random junk), ties 1/2, by counting all pairs."""
    pos, neg = scores[truth == 1], scores[truth == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_hand_computed_small_case() -> None:
    truth = [1, 1, 1, 0, 0, 0, 0, 1]
    selected = [1, 1, 0, 1, 0, 0, 0, 1]
    # TP=3 (0,1,7) FN=1 (2) FP=1 (3) TN=3
    rep = classification_metrics(truth, selected)
    v = rep.values
    assert confusion_matrix(truth, selected).tolist() == [[3, 1], [1, 3]]
    assert v["accuracy"] == pytest.approx(6 / 8)
    assert v["precision"] == pytest.approx(3 / 4)
    assert v["recall"] == pytest.approx(3 / 4)
    assert v["false_negative_rate"] == pytest.approx(1 / 4)
    assert v["f1"] == pytest.approx(0.75)
    assert rep.to_dict()["confusion_matrix"] == {"tn": 3, "fp": 1, "fn": 1, "tp": 3}


def test_auc_and_average_precision_hand_values() -> None:
    truth = np.array([1, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    # pairs (good > junk): 0.9>0.8, 0.9>0.1, 0.7>0.1 (0.7<0.8) -> 3/4
    assert roc_auc(truth, scores) == pytest.approx(0.75)
    # ranked: 1 (P=1, R=.5), 0, 1 (P=2/3, R=1) -> AP = .5*1 + .5*2/3
    assert average_precision(truth, scores) == pytest.approx(0.5 + 1 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_matches_brute_force_pair_count(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 60)
    scores = np.round(rng.random(60), 1)  # many ties
    assert roc_auc(truth, scores) == pytest.approx(brute_force_auc(truth, scores))


def test_ece_of_calibrated_scores_is_small_and_of_overconfident_is_large() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(200_000)
    truth = (rng.random(scores.size) < scores).astype(int)
    assert expected_calibration_error(truth, scores) < 0.01
    assert expected_calibration_error(truth, np.where(scores > 0.5, 1.0, 0.0)) > 0.2


def test_ece_hand_value() -> None:
    # bin [0.9, 1.0]: mean score .95, fraction good .5 -> gap .45, all samples there
    assert expected_calibration_error([1, 0], [0.9, 1.0]) == pytest.approx(0.45)


def test_particle_weighted_fractions() -> None:
    out = particle_fractions(truth=[1, 1, 0, 0], selected=[1, 0, 1, 0], particles=[300, 100, 50, 150])
    assert out["good_particles_kept"] == pytest.approx(0.75)
    assert out["junk_particles_removed"] == pytest.approx(0.75)


def test_all_one_label_gives_nan_auc_with_note_not_a_crash() -> None:
    rep = classification_metrics([1, 1, 1], [1, 0, 1], scores=[0.9, 0.2, 0.7], particles=[10, 10, 10])
    assert math.isnan(rep.values["roc_auc"])
    assert any("ROC-AUC is undefined" in n for n in rep.notes)
    assert rep.values["recall"] == pytest.approx(2 / 3)
    junk = classification_metrics([0, 0], [0, 0], scores=[0.1, 0.2])
    assert math.isnan(junk.values["recall"]) and math.isnan(junk.values["pr_auc"])
    assert junk.to_dict()["recall"] is None
    empty = classification_metrics([], [], scores=[])
    assert math.isnan(empty.values["accuracy"])
