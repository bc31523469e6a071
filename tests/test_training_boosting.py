"""Boosting by filtering: stage sets, resume after an interruption, fine-tuning, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from relion_cryodiscovery.errors import JobAborted
from relion_cryodiscovery.model.ensemble import BoostedEnsemble, load_member, predict_views
from relion_cryodiscovery.training.boosting import (
    StageSets, select_d2_set, select_d3_set, sweep, train_boosted_ensemble,
)

from cryodiscovery_dev.synthetic import synthetic_arrays, tiny_config

MEMBERS = ("d1", "d2", "d3")


def same_weights(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


@pytest.fixture(scope="module")
def data():
    return synthetic_arrays(48, seed=1), synthetic_arrays(20, seed=2)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("boost")
    lines: list[str] = []
    ensemble = train_boosted_ensemble(*data, tiny_config(epochs=2), None, out, log=lines.append)
    return ensemble, out, lines


def test_d2_set_is_half_wrong_half_right() -> None:
    labels = np.array([1, 0] * 50)
    p = np.where(labels == 1, 0.9, 0.1)
    p[:30] = 1 - p[:30]  # d1 wrong on the first 30
    chosen, rule = select_d2_set(p, labels, np.random.default_rng(0), min_hard_fraction=0.1, min_classes=8)
    wrong = (p >= 0.5) != labels.astype(bool)
    assert len(chosen) == 60 and wrong[chosen].sum() == 30 and rule["hard_filled_low_margin"] == 0
    again, _ = select_d2_set(p, labels, np.random.default_rng(0), 0.1, 8)
    np.testing.assert_array_equal(chosen, again)


def test_d2_set_fills_hard_half_with_low_margin_when_d1_rarely_errs() -> None:
    labels = np.array([1] * 50 + [0] * 50)
    p = np.where(labels == 1, 0.9, 0.1)
    p[0] = 0.2  # the only mistake
    p[[1, 2, 3]] = [0.55, 0.6, 0.65]  # least confident correct classes
    chosen, rule = select_d2_set(p, labels, np.random.default_rng(0), min_hard_fraction=0.04, min_classes=0)
    assert rule == {"n_wrong": 1, "half": 4, "hard_filled_low_margin": 3, "n_easy": 4}
    assert {0, 1, 2, 3} <= set(chosen.tolist()) and len(chosen) == 8


def test_d3_set_is_disagreements_then_low_margin() -> None:
    p1 = np.array([0.9, 0.9, 0.1, 0.2, 0.6, 0.45, 0.8, 0.05])
    p2 = np.array([0.8, 0.3, 0.7, 0.1, 0.55, 0.4, 0.9, 0.05])
    chosen, rule = select_d3_set(p1, p2, min_fraction=0.0, min_classes=0)
    assert chosen.tolist() == [1, 2]
    chosen, rule = select_d3_set(p1, p2, min_fraction=0.5, min_classes=0)
    assert chosen.tolist() == [1, 2, 4, 5] and rule["filled_low_margin"] == 2


def test_each_stage_trains_on_its_set(data, trained) -> None:
    train, _ = data
    ensemble, out, lines = trained
    sets = StageSets.load(out / "stage_sets.json")
    np.testing.assert_array_equal(sets.d1, np.arange(len(train)))
    d1 = load_member(out / "checkpoints" / "d1" / "best.keras")
    d2 = load_member(out / "checkpoints" / "d2" / "best.keras")
    p1 = predict_views([d1], train.images, train.features)[:, 0]
    p2 = predict_views([d2], train.images, train.features)[:, 0]
    config = tiny_config()
    d2_idx, _ = select_d2_set(p1, train.labels, np.random.default_rng([config.train.seed, 2]),
                              config.min_hard_fraction, config.min_stage_classes)
    np.testing.assert_array_equal(sets.d2, d2_idx)
    wrong = (p1 >= 0.5) != train.labels.astype(bool)
    assert wrong[sets.d2].sum() >= min(wrong.sum(), len(sets.d2) // 2)
    d3_idx, _ = select_d3_set(p1, p2, config.min_d3_fraction, config.min_stage_classes)
    np.testing.assert_array_equal(sets.d3, d3_idx)
    disagree = np.flatnonzero((p1 >= 0.5) != (p2 >= 0.5))
    assert set(disagree.tolist()) <= set(sets.d3.tolist())
    for stage in MEMBERS:  # each fit saw exactly its set
        state = json.loads((out / "checkpoints" / stage / "state.json").read_text())
        assert state["n_train"] == len(getattr(sets, stage)) and state["done"]
        assert any(line.startswith(f"{stage} epoch 2/2") for line in lines)
    card = json.loads((out / "model_card.json").read_text())
    assert card["training_data"]["stage_sizes"] == {s: len(getattr(sets, s)) for s in MEMBERS}
    assert card["n_features"] == train.n_features and 0 < card["threshold"] <= 0.5


def test_saved_ensemble_round_trip(data, trained) -> None:
    _, val = data
    ensemble, out, _ = trained
    loaded = BoostedEnsemble.load(out)
    a, b = ensemble.predict(val.images, val.features), loaded.predict(val.images, val.features)
    np.testing.assert_array_equal(a.raw, b.raw)
    np.testing.assert_array_equal(a.calibrated, b.calibrated)


def test_resume_after_interruption_continues_from_last_checkpoint(data, trained, tmp_path) -> None:
    lines: list[str] = []

    def abort() -> bool:
        return any(line.startswith("d2 epoch 1/") for line in lines)

    with pytest.raises(JobAborted):
        train_boosted_ensemble(*data, tiny_config(epochs=2), None, tmp_path, log=lines.append,
                               should_abort=abort)
    assert json.loads((tmp_path / "checkpoints" / "d2" / "state.json").read_text())["epoch"] == 1
    lines.clear()
    resumed = train_boosted_ensemble(*data, tiny_config(epochs=2), None, tmp_path, resume=True,
                                     log=lines.append)
    assert any(line.startswith("d1: already trained") for line in lines)
    assert any(line.startswith("d2: resuming after epoch 1") for line in lines)
    assert not any(line.startswith(("d1 epoch", "d2 epoch 1/")) for line in lines)
    reference = trained[0]  # same data and config, uninterrupted
    assert all(same_weights(getattr(resumed, s), getattr(reference, s)) for s in MEMBERS)


def test_training_is_deterministic(data, trained, tmp_path) -> None:
    again = train_boosted_ensemble(*data, tiny_config(epochs=2), None, tmp_path, log=lambda m: None)
    assert all(same_weights(getattr(again, s), getattr(trained[0], s)) for s in MEMBERS)


def test_fine_tuning_starts_from_given_weights(data, trained, tmp_path) -> None:
    base = trained[0]
    config = tiny_config(epochs=1, fine_tune_learning_rate=1e-12)
    tuned = train_boosted_ensemble(*data, config, None, tmp_path, init_from=base, log=lambda m: None)
    for stage in MEMBERS:
        start, end = getattr(base, stage), getattr(tuned, stage)
        for layer in ("conv1", "conv2", "meta_dense", "p_good"):
            for w0, w1 in zip(start.get_layer(layer).get_weights(), end.get_layer(layer).get_weights()):
                np.testing.assert_allclose(w0, w1, atol=1e-6)
        means = [m.get_layer("feature_norm").get_config()["mean"] for m in (start, end)]
        assert means[0] == means[1]


def test_sweep_returns_a_row_per_grid_point(data, tmp_path) -> None:
    rows = sweep(*data, {"activation": ["relu", "elu"], "learning_rate": [1e-3]}, tiny_config(epochs=1),
                 out_dir=tmp_path, log=lambda m: None)
    assert [r["activation"] for r in rows] == ["relu", "elu"]
    assert {"accuracy", "val_loss", "roc_auc", "parameters"} <= set(rows[0])
    assert len((tmp_path / "sweep.jsonl").read_text().splitlines()) == 2
