"""Fit-loop pieces: augmentation, metadata withholding, deterministic batches, one-stage determinism."""

from __future__ import annotations

import numpy as np
import pytest

from relion_cryodiscovery.data import features as feature_module
from relion_cryodiscovery.data.augment import AugmentConfig, augment_images
from relion_cryodiscovery.training.trainer import (
    FitState, TrainConfig, TrainingArrays, fit_model, training_batches, withhold,
)

from cryodiscovery_dev.synthetic import synthetic_arrays


def test_augmentation_is_seeded_and_changes_images() -> None:
    images = synthetic_arrays(6, views=2).images.reshape(-1, 64, 64)
    a = augment_images(images, np.random.default_rng(5))
    b = augment_images(images, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == images.shape and not np.allclose(a, images)
    np.testing.assert_allclose(augment_images(images, np.random.default_rng(5), AugmentConfig.none()), images)


def test_pure_rotation_by_flip_keeps_a_centred_disc() -> None:
    yy, xx = np.mgrid[:64, :64] - 31.5
    disc = (np.hypot(yy, xx) < 14).astype(np.float32)[None]
    only_geometry = AugmentConfig(max_shift=0.0, p_blur=0.0, contrast_range=(1.0, 1.0), max_noise_std=0.0)
    out = augment_images(disc, np.random.default_rng(1), only_geometry)
    assert np.abs(out - disc)[0, 24:40, 24:40].max() < 1e-5  # interior unchanged by rotation/flip
    assert abs(out.sum() - disc.sum()) < 0.02 * disc.sum()  # and the disc keeps its area


def test_withholding_uses_the_feature_module_for_real_rows() -> None:
    n = len(feature_module.FEATURE_NAMES)
    rows = np.concatenate([np.tile(feature_module.FEATURE_FILLS + 1, (50, 1)), np.zeros((50, n))], axis=1)
    out = withhold(rows, np.random.default_rng(0), p_all=1.0, p_each=0.0)
    image_columns = [i for i, g in enumerate(feature_module.FEATURE_GROUPS) if g not in feature_module.METADATA_GROUPS]
    hidden = [i for i in range(n) if i not in image_columns]
    np.testing.assert_allclose(out[:, hidden], np.tile(feature_module.FEATURE_FILLS[hidden], (50, 1)))
    assert (out[:, [n + i for i in hidden]] == 1).all()
    assert (out[:, [n + i for i in image_columns]] == 0).all()


def test_withholding_nothing_draws_nothing() -> None:
    """With both probabilities 0 the rows come back unchanged and the generator is not advanced
    (the batches after it stay those of earlier versions)."""
    rows = synthetic_arrays(6).features
    rng, reference = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(withhold(rows, rng, 0.0, 0.0), rows)
    assert rng.random() == reference.random()


def test_fit_refuses_feature_rows_of_another_layout(tmp_path) -> None:
    arrays = synthetic_arrays(8)
    narrow = TrainingArrays(arrays.images, arrays.features[:, :6], arrays.labels, arrays.groups)
    with pytest.raises(ValueError, match="feature layout"):
        fit_model("d1", lambda: None, narrow, narrow, TrainConfig(epochs=1), None, tmp_path)


def test_particle_count_shift_raises_only_present_counts_within_the_range() -> None:
    n = len(feature_module.FEATURE_NAMES)
    column = feature_module.FEATURE_NAMES.index("log10_particles")
    rows = np.concatenate([np.tile(feature_module.FEATURE_FILLS, (400, 1)), np.zeros((400, n))], axis=1)
    rows[:200, n + column] = 1.0  # count withheld in the first half
    out = feature_module.shift_particle_counts(rows, np.random.default_rng(0), p=0.5, max_decades=2.5)
    delta = out[:, column] - rows[:, column]
    assert (delta[:200] == 0).all()  # a withheld count stays at its fill
    assert 0.35 < np.mean(delta[200:] > 0) < 0.65 and delta.min() >= 0 and delta.max() <= 2.5
    others = [i for i in range(2 * n) if i != column]
    np.testing.assert_array_equal(out[:, others], rows[:, others])
    again = feature_module.shift_particle_counts(rows, np.random.default_rng(0), p=0.5, max_decades=2.5)
    np.testing.assert_array_equal(out, again)


def test_training_batches_are_deterministic_per_epoch() -> None:
    arrays = synthetic_arrays(10, views=3)
    config = TrainConfig(batch_size=8)
    first = list(training_batches(arrays, config, "d1", 0, 8))
    again = list(training_batches(arrays, config, "d1", 0, 8))
    other = list(training_batches(arrays, config, "d1", 1, 8))
    assert sum(len(y) for _, y, _ in first) == 30 and first[0][0]["image"].shape == (8, 64, 64, 1)
    np.testing.assert_array_equal(first[0][0]["image"], again[0][0]["image"])
    assert not np.array_equal(first[0][0]["image"], other[0][0]["image"])


def test_training_arrays_validate_and_subset() -> None:
    arrays = synthetic_arrays(6)
    sub = arrays.subset(np.array([4, 1]))
    assert len(sub) == 2 and sub.groups.tolist() == [arrays.groups[4], arrays.groups[1]]
    with pytest.raises(ValueError, match="labels"):
        TrainingArrays(arrays.images, arrays.features, np.full(6, 2), arrays.groups)


def test_fit_state_round_trip(tmp_path) -> None:
    state = FitState(stage="d2", epoch=3, history=[{"epoch": 1}])
    state.save(tmp_path / "state.json")
    loaded = FitState.load(tmp_path / "state.json")
    assert loaded.epoch == 3 and loaded.best_val_loss == float("inf")
