"""The network: inputs, outputs, built-in layers only, feature normalisation."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np

from relion_cryodiscovery.model.network import NetworkConfig, build_network, feature_statistics

from cryodiscovery_dev.synthetic import TINY_NETWORK


def test_inputs_output_and_safe_round_trip(tmp_path) -> None:
    model = build_network(6, TINY_NETWORK, feature_sample=np.random.default_rng(0).random((20, 6)))
    assert sorted(model.input.keys()) == ["features", "image"]
    x = {"image": np.zeros((3, 64, 64, 1), np.float32), "features": np.ones((3, 6), np.float32)}
    p = model(x).numpy()
    assert p.shape == (3, 1) and np.all((p > 0) & (p < 1))
    path = tmp_path / "m.keras"
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert "Lambda" not in json.dumps(config)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(again(x).numpy(), p)


def test_config_dict_round_trip_and_activation() -> None:
    config = NetworkConfig(depth=3, activation="elu", width=8)
    assert NetworkConfig.from_dict(config.to_dict()) == config
    model = build_network(4, config)
    assert model.get_layer("act3").get_config()["activation"] == "elu"
    assert model.get_layer("conv3").filters == 32


def test_constant_feature_columns_are_not_blown_up() -> None:
    sample = np.zeros((10, 4), np.float32)
    sample[:, 0] = np.arange(10)
    mean, variance = feature_statistics(sample, 4)
    assert variance[1:].tolist() == [1.0, 1.0, 1.0]
    assert np.isclose(variance[0], np.var(np.arange(10)))
