"""Calibration: ECE on known cases, Platt scaling, the threshold rule (metrics from evaluation.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from relion_cryodiscovery.evaluation.metrics import binary_metrics, expected_calibration_error
from relion_cryodiscovery.model.calibration import PlattCalibration, choose_threshold, fit_platt


def test_ece_known_cases() -> None:
    labels = np.array([1] * 8 + [0] * 2)
    assert expected_calibration_error(labels, np.full(10, 0.8)) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([1, 0] * 5), np.full(10, 0.9)) == pytest.approx(0.4)
    # two bins: 0.05 with all bad (gap 0.05) and 0.95 with half good (gap 0.45), equal weight
    p = np.array([0.05] * 4 + [0.95] * 4)
    y = np.array([0] * 4 + [1, 0, 1, 0])
    assert expected_calibration_error(y, p) == pytest.approx(0.5 * 0.05 + 0.5 * 0.45)


def test_platt_recovers_a_miscalibrated_model() -> None:
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.02, 0.98, 4000)
    labels = (rng.random(4000) < true_p).astype(int)
    logit = np.log(true_p / (1 - true_p))
    overconfident = 1 / (1 + np.exp(-3.0 * logit))
    calibration = fit_platt(overconfident, labels)
    assert calibration.a == pytest.approx(1 / 3, rel=0.15)
    assert expected_calibration_error(labels, calibration(overconfident)) < 0.03
    assert expected_calibration_error(labels, overconfident) > 0.08
    assert PlattCalibration.from_dict(calibration.to_dict()) == calibration


def test_identity_when_too_few_validation_classes() -> None:
    assert fit_platt(np.array([0.2, 0.9, 0.8]), np.array([0, 1, 1])) == PlattCalibration()


def test_threshold_rule() -> None:
    good = np.linspace(0.05, 0.95, 100)  # 100 good classes: 2 may fall below the threshold
    scores = np.concatenate([good, np.full(20, 0.01)])
    labels = np.array([1] * 100 + [0] * 20)
    t = choose_threshold(scores, labels, max_fnr=0.02, cap=0.5)
    assert t == pytest.approx(good[2])
    assert binary_metrics(labels, scores, t)["false_negative_rate"] <= 0.02
    assert choose_threshold(np.full(10, 0.9), np.ones(10)) == 0.5  # capped


def test_binary_metrics_auc() -> None:
    m = binary_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), 0.5)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["false_negative_rate"] == pytest.approx(0.5)


def test_binary_metrics_auc_counts_ties_one_half() -> None:
    m = binary_metrics(np.array([0, 1, 0, 1, 1]), np.array([0.5, 0.5, 0.2, 0.5, 0.9]), 0.5)
    # pairs (good, bad): 0.9 beats both, the two tied 0.5s beat 0.2 and tie with 0.5: (2 + 2 * 1.5) / 6
    assert m["roc_auc"] == pytest.approx(5 / 6)
