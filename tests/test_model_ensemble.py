"""The ensemble: tie-breaking rule, save/load, safe loading, abort between batches."""

from __future__ import annotations

import zipfile

import keras
import numpy as np
import pytest
from keras import layers

from relion_cryodiscovery.errors import CryoDiscoveryError, JobAborted
from relion_cryodiscovery.model.ensemble import BoostedEnsemble, check_keras_archive, combine_scores
from relion_cryodiscovery.model.network import build_network

from test_model_card import make_card
from cryodiscovery_dev.synthetic import TINY_NETWORK


def feature_voter(column: int) -> keras.Model:
    """P(good) = sigmoid(10 * features[:, column]); the image input is used with weight zero."""
    image = keras.Input((64, 64, 1), name="image")
    features = keras.Input((4,), name="features")
    pooled = layers.GlobalAveragePooling2D()(image)
    joint = layers.Concatenate()([pooled, features])
    out = layers.Dense(1, activation="sigmoid", name="p_good")(joint)
    model = keras.Model({"image": image, "features": features}, out)
    kernel = np.zeros((5, 1), np.float32)
    kernel[1 + column] = 10.0
    model.get_layer("p_good").set_weights([kernel, np.zeros(1, np.float32)])
    return model


def test_d3_consulted_exactly_where_d1_and_d2_disagree() -> None:
    card = make_card()
    ensemble = BoostedEnsemble(feature_voter(0), feature_voter(1), feature_voter(2), card)
    signs = np.array([[1, 1, -1], [1, -1, -1], [-1, 1, 1], [-1, -1, 1], [1, -1, 1]], np.float32)
    features = np.concatenate([signs, np.zeros((5, 1))], axis=1).astype(np.float32)
    images = np.zeros((5, 2, 64, 64), np.float32)
    scores = ensemble.predict(images, features, batch_size=2)
    np.testing.assert_array_equal(scores.d3_used, [False, True, True, False, True])
    assert np.isnan(scores.p_d3[[0, 3]]).all()
    np.testing.assert_allclose(scores.raw, np.where(signs[:, 2] > 0, 1, 0) * scores.d3_used
                               + np.where(~scores.d3_used, (scores.p_d1 + scores.p_d2) / 2, 0), atol=1e-4)
    # raw >= 0.5 is the majority vote of the three members
    np.testing.assert_array_equal(scores.raw >= 0.5, (signs > 0).sum(axis=1) >= 2)


def test_combine_scores_rule() -> None:
    used, raw = combine_scores(np.array([0.9, 0.9]), np.array([0.7, 0.2]), np.array([np.nan, 0.1]))
    assert used.tolist() == [False, True]
    np.testing.assert_allclose(raw, [0.8, 0.1])


def random_ensemble(n_features: int = 4) -> BoostedEnsemble:
    keras.utils.set_random_seed(3)
    members = [build_network(n_features, TINY_NETWORK) for _ in range(3)]
    return BoostedEnsemble(*members, card=make_card())


def test_save_load_round_trip_and_abort(tmp_path) -> None:
    ensemble = random_ensemble()
    rng = np.random.default_rng(0)
    images = rng.standard_normal((7, 6, 64, 64)).astype(np.float32)
    features = rng.standard_normal((7, 4)).astype(np.float32)
    before = ensemble.predict(images, features, batch_size=12)
    ensemble.save(tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["d1.keras", "d1.onnx", "d2.keras", "d2.onnx", "d3.keras", "d3.onnx", "model_card.json"]
    loaded = BoostedEnsemble.load(tmp_path)
    after = loaded.predict(images, features, batch_size=12)
    for name in ("p_d1", "p_d2", "p_d3", "d3_used", "raw", "calibrated"):
        np.testing.assert_array_equal(getattr(before, name), getattr(after, name))
    calls = []
    with pytest.raises(JobAborted):
        loaded.predict(images, features, batch_size=12,
                       should_abort=lambda: calls.append(1) or len(calls) > 2)
    assert len(calls) == 3


def test_safe_loading_refuses_lambda_custom_and_non_zip(tmp_path) -> None:
    ensemble = random_ensemble()
    ensemble.save(tmp_path)
    inp = keras.Input((4,))
    keras.Model(inp, layers.Lambda(lambda x: x * 2)(inp)).save(tmp_path / "d2.keras")
    with pytest.raises(CryoDiscoveryError, match=r"d2\.keras.*Lambda"):
        BoostedEnsemble.load(tmp_path)
    (tmp_path / "d2.keras").write_bytes(b"\x89HDF\r\n not a zip")
    with pytest.raises(CryoDiscoveryError, match=r"d2\.keras.*not a Keras"):
        BoostedEnsemble.load(tmp_path)
    # a class from a foreign module in config.json
    with zipfile.ZipFile(tmp_path / "d1.keras") as archive:
        config = archive.read("config.json").decode()
        weights = archive.read("model.weights.h5")
    path = tmp_path / "custom.keras"
    with zipfile.ZipFile(path, "w") as archive:
        evil = config.replace('"module": "keras.layers"', '"module": "evil.layers"', 1)
        archive.writestr("config.json", evil)
        archive.writestr("model.weights.h5", weights)
    with pytest.raises(CryoDiscoveryError, match="evil.layers"):
        check_keras_archive(path)


def test_feature_count_mismatch_is_refused(tmp_path) -> None:
    ensemble = random_ensemble(n_features=6)
    ensemble.save(tmp_path)
    with pytest.raises(CryoDiscoveryError, match="expects 6 features"):
        BoostedEnsemble.load(tmp_path)
