"""The reason model's labels, grades and metrics (issue #23); the network itself is tested tiny."""

from __future__ import annotations

import numpy as np
import pytest

from relion_cryodiscovery.evaluation.reasons import junk_kinds_by_eye, reason_metrics
from relion_cryodiscovery.model.reasons import (GRADES, REASONS, SIMULATED_KIND_REASONS, grade, most_likely,
                                                 reason_labels)


def test_every_simulated_junk_kind_teaches_a_reason_and_good_classes_none():
    from relion_cryodiscovery.simulate import lab_classes

    kinds = sorted(set(lab_classes.JUNK_KINDS) | {"particle", "misaligned", "mixed"})
    assert set(kinds) <= set(SIMULATED_KIND_REASONS)
    assert set(SIMULATED_KIND_REASONS.values()) == set(REASONS)
    labels = reason_labels(np.array(["ice", "ice", "particle", "neighbours"]), np.array([0, 1, 0, 0]))
    assert list(labels) == [REASONS.index("ice"), -1, REASONS.index("low resolution"),
                            REASONS.index("clipped or off-centre")]
    with pytest.raises(ValueError, match="without a reason"):
        reason_labels(np.array(["sandwich"]), np.array([0]))


def test_grades_follow_the_decision_score_and_kind():
    assert [grade(True, s) for s in (0.99, 0.95, 0.8, 0.3)] == ["A", "A", "B", "C"]
    assert grade(False, 0.9, "low resolution") == "D"
    assert grade(False, 0.01, "ice") == "F"
    assert grade(False, 0.5, "") == "D"  # no learned kind: rejected but not known to be unusable
    assert grade(False, 0.5, "clipped or off-centre", eligible=False) == "F"
    assert set(GRADES) == {"A", "B", "C", "D", "F"}


def test_reason_metrics_count_per_reason_and_leave_out_unlabelled():
    truth = np.array([0, 0, 1, 4, -1])
    predicted = np.array([0, 1, 1, 0, 3])
    m = reason_metrics(truth, predicted)
    assert m["classes"] == 4 and m["accuracy"] == 0.5
    low, noise, ice = (m["per_reason"][r] for r in ("low resolution", "noise", "ice"))
    assert (low["support"], low["predicted"], low["recall"], low["precision"]) == (2, 2, 0.5, 0.5)
    assert (noise["recall"], noise["precision"]) == (1.0, 0.5)
    assert ice["recall"] == 0.0 and np.isnan(ice["precision"])
    assert np.array(m["confusion"]).sum() == 4


def test_most_likely_reason():
    p = np.zeros((2, len(REASONS)), np.float32)
    p[0, REASONS.index("ice")], p[1, REASONS.index("noise")] = 0.7, 0.9
    names, probability = most_likely(p)
    assert names == ["ice", "noise"] and np.allclose(probability, [0.7, 0.9])


def test_junk_kinds_by_eye_file_reads_and_leaves_out_unsure():
    from pathlib import Path

    labels = junk_kinds_by_eye(Path(__file__).resolve().parents[1] / "benchmarks" / "real_sets" / "junk_kinds_by_eye.csv")
    assert sum(len(v) for v in labels.values()) == 145  # 151 labelled, 4 unsure, 2 mixed
    assert set().union(*(set(v.values()) for v in labels.values())) <= set(REASONS)
    assert labels["relion4_tutorial_job032_byeye"][30] == "ice"


def test_a_tiny_reason_model_trains_exports_and_loads_safely_on_both_runtimes(tmp_path):
    """Train 1 epoch on 56 synthetic junk classes, add it to a model directory, load it back: ONNX
    Runtime and Keras give the same probabilities, and a changed file is refused."""
    from relion_cryodiscovery.data.features import FEATURE_NAMES
    from relion_cryodiscovery.model.card import ModelCard
    from relion_cryodiscovery.model.network import NetworkConfig
    from relion_cryodiscovery.model.reasons import ReasonModel, reasons_unavailable
    from relion_cryodiscovery.model.shipped import default_model_dir
    from relion_cryodiscovery.training.reasons import add_to_model, junk_only, train_reasons
    from relion_cryodiscovery.training.trainer import TrainConfig, TrainingArrays

    rng = np.random.default_rng(0)
    n, f = 64, 2 * len(FEATURE_NAMES)
    arrays = TrainingArrays(rng.normal(size=(n, 1, 64, 64)).astype(np.float32),
                            rng.normal(size=(n, f)).astype(np.float32), np.zeros(n), np.repeat(["a", "b"], n // 2))
    reasons = np.arange(n) % len(REASONS)
    reasons[:8] = -1  # good classes: left out
    train, val = junk_only(arrays.subset(np.arange(0, 48)), reasons[:48]), junk_only(arrays.subset(np.arange(48, n)), reasons[48:])
    assert len(train) == 40 and train.n_labels == len(REASONS)
    assert np.isclose(train.weights.mean(), 1.0) and len(set(np.round(train.weights, 6))) > 1
    model = train_reasons(train, val, NetworkConfig(depth=1, width=4, dense_units=8, metadata_units=4),
                          TrainConfig(epochs=1, batch_size=16, verbose=0), tmp_path / "checkpoints", log=lambda s: None)
    card = ModelCard.load(default_model_dir())
    add_to_model(model, card, tmp_path, {"note": "tiny"})
    assert reasons_unavailable(card, tmp_path, "onnxruntime") is None
    onnx = ReasonModel.load(tmp_path, card, "onnxruntime").predict(arrays.images[:5], arrays.features[:5])
    keras_ = ReasonModel.load(tmp_path, card, "tensorflow").predict(arrays.images[:5], arrays.features[:5])
    assert onnx.shape == (5, len(REASONS)) and np.allclose(onnx.sum(axis=1), 1, atol=1e-5)
    assert np.max(np.abs(onnx - keras_)) < 1e-5
    (tmp_path / "reasons.onnx").write_bytes(b"changed")
    assert "checksum" in reasons_unavailable(card, tmp_path, "onnxruntime")
    assert ReasonModel.load(tmp_path, card, "onnxruntime") is None


def test_the_shipped_model_names_and_grades_the_bundled_examples_classes(example_project, example_data_star,
                                                                        monkeypatch, capsys):
    """Every rejected class carries a learned kind (or 'unclear') and every class a grade, in the score
    table, run.out's table and summary line, with kept classes graded A-C and rejected ones D-F."""
    import pandas as pd

    import relion_cryodiscovery as cd
    from relion_cryodiscovery.model.reasons import UNCLEAR

    monkeypatch.chdir(example_project)
    table = cd.select(example_data_star, "External/job003/", min_particles=10, threads=1)
    rejected = table["selected"] == 0
    assert rejected.any()
    assert table.loc[rejected, "junk_kind"].isin(REASONS + (UNCLEAR,)).all()
    assert (table.loc[~rejected, "junk_kind"] == "none").all()
    assert table.loc[~rejected, "grade"].isin(["A", "B", "C"]).all() and table.loc[rejected, "grade"].isin(["D", "F"]).all()
    named = rejected & table["junk_kind"].isin(REASONS)
    assert (table.loc[named, "junk_kind_probability"] >= 0.5).all()
    run_out = capsys.readouterr().out
    assert "junk kinds: learned (reasons.onnx" in run_out
    assert f"rejected {int(rejected.sum())}: " in run_out
    csv = pd.read_csv(example_project / "External/job003/cryodiscovery_scores.csv", keep_default_na=False)
    assert list(csv["junk_kind"]) == list(table["junk_kind"]) and list(csv["grade"]) == list(table["grade"])
