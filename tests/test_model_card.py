"""model_card.json round trip and clear errors."""

from __future__ import annotations

import json

import pytest

from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.model.card import FORMAT_VERSION, ModelCard, file_sha256


def make_card() -> ModelCard:
    return ModelCard(
        format_version=FORMAT_VERSION, model_version="test-1", created="2026-01-01T00:00:00+00:00",
        preprocessing={"image_size": 64}, feature_names=["a", "b"], feature_fills=[0.5, 1.0], n_features=4,
        network={"depth": 2}, calibration={"method": "platt", "a": 1.0, "b": 0.0}, threshold=0.4,
        threshold_rule="rule", training_data={"n_train_classes": 3}, validation_metrics={"accuracy": 0.9},
        ece=float("nan"),
    )


def test_round_trip(tmp_path) -> None:
    card = make_card()
    card.save(tmp_path)
    loaded = ModelCard.load(tmp_path)
    assert loaded.feature_fills == [0.5, 1.0] and loaded.threshold == 0.4
    assert loaded.ece != loaded.ece  # NaN survives as "nan"


def test_unknown_version_and_missing_field_name_the_file(tmp_path) -> None:
    path = make_card().save(tmp_path)
    values = json.loads(path.read_text())
    path.write_text(json.dumps({**values, "format_version": 99}))
    with pytest.raises(CryoDiscoveryError, match="model_card.json.*format_version 99"):
        ModelCard.load(path)
    del values["threshold"]
    path.write_text(json.dumps(values))
    with pytest.raises(CryoDiscoveryError, match="model_card.json.*threshold"):
        ModelCard.load(tmp_path)


def test_file_hash(tmp_path) -> None:
    (tmp_path / "x").write_bytes(b"abc")
    assert file_sha256(tmp_path / "x").startswith("ba7816bf")
