"""The reason model's labels, grades and metrics (issue #23); the network itself is tested tiny."""

from __future__ import annotations

import numpy as np
import pytest

from relion_cryodiscovery.evaluation.reasons import junk_kinds_by_eye, reason_metrics
from relion_cryodiscovery.model.reasons import (GRADES, REASONS, SIMULATED_KIND_REASONS, grade, most_likely,
                                                 reason_labels)


def test_every_simulated_junk_kind_teaches_a_reason_and_good_classes_none():
    from cryodiscovery_dev.simulate import lab_classes

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
    assert sum(len(v) for v in labels.values()) == 401  # 449 labelled, 28 unsure, 4 mixed, 16 plausible views
    assert set().union(*(set(v.values()) for v in labels.values())) <= set(REASONS)
    assert labels["relion4_tutorial_job032_byeye"][30] == "ice"
    assert 18 not in labels["slicem_mixture_k100_byeye"] and labels["slicem_mixture_k100_byeye"][86] == "ice"


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
    # below the naming bar run.out still hints at the most likely kind: "unclear (0.68: low resolution?)"
    unclear = rejected & (table["junk_kind"] == UNCLEAR)
    assert unclear.any()  # the shipped model (naming bar 0.95) leaves some of the example's rejected classes unclear
    for number, p in zip(table.loc[unclear, "class_number"], table.loc[unclear, "junk_kind_probability"]):
        line = next(text for text in run_out.splitlines() if text.split()[:1] == [str(number)])
        assert f"{UNCLEAR} ({p:.2f}: " in line and any(f": {kind}?)" in line for kind in REASONS)
    csv = pd.read_csv(example_project / "External/job003/cryodiscovery_scores.csv", keep_default_na=False)
    assert list(csv["junk_kind"]) == list(table["junk_kind"]) and list(csv["grade"]) == list(table["grade"])


def _labelled_sets():
    from relion_cryodiscovery.evaluation.reasons import LabelledRealSet

    rng = np.random.default_rng(1)
    out = []
    for name, kinds in (("a", [0, 0, 1, 2]), ("b", [0, 1, 1]), ("c", [3, 0, 0, 0, 4])):
        n = len(kinds)
        out.append(LabelledRealSet(name, rng.normal(size=(n, 1, 8, 8)).astype(np.float32),
                                   rng.normal(size=(n, 4)).astype(np.float32), np.array(kinds), list(range(1, n + 1))))
    return out


class _Prior:
    """A 'model' that answers each class with the kind frequencies of the sets it was fitted on."""

    def __init__(self, sets):
        counts = np.bincount(np.concatenate([s.truth for s in sets]), minlength=len(REASONS)).astype(float)
        self.p = counts / counts.sum()
        self.fitted_on = [s.name for s in sets]
        self.min_probability = 0.0

    def predict(self, images, features):
        return np.tile(self.p, (len(images), 1))


def test_leave_one_set_out_never_fits_on_the_held_out_set_and_pools_the_agreement():
    from relion_cryodiscovery.evaluation.reasons import agreement, leave_one_set_out

    sets, fitted = _labelled_sets(), []

    def fit(others):
        model = _Prior(others)
        fitted.append(model.fitted_on)
        return model

    held_out = leave_one_set_out(sets, fit, log=lambda s: None)
    assert fitted == [["b", "c"], ["a", "c"], ["a", "b"]]
    assert {k: v.shape for k, v in held_out.items()} == {"a": (4, 6), "b": (3, 6), "c": (5, 6)}
    result = agreement({s.name: s.truth for s in sets}, held_out, 0.0)
    # without a: b+c say low resolution most (5 of 8) -> a right 2/4; without b: low resolution -> 1/3;
    # without c: low resolution (3 of 7) -> 3/5
    assert result["per_set"]["a"]["accuracy"] == 0.5 and np.isclose(result["per_set"]["c"]["accuracy"], 0.6)
    assert np.isclose(result["pooled"]["accuracy"], 6 / 12)
    assert result["pooled"]["baseline_most_common"] == {"reason": "low resolution", "accuracy": 6 / 12}
    assert result["pooled"]["confident"]["named"] == 1.0


def test_agreement_is_split_into_the_sets_a_design_looked_at_and_the_others():
    from relion_cryodiscovery.evaluation.reasons import agreement, split_agreement

    noise, low = REASONS.index("noise"), REASONS.index("low resolution")
    truth = {"seen": np.array([noise, noise, low, low]), "apart": np.array([noise, low, low]),
             "apart2": np.array([low, low])}
    # the model answers noise everywhere: right on every noise class
    calls = {name: np.tile(np.eye(len(REASONS))[noise], (len(t), 1)) for name, t in truth.items()}
    result = split_agreement(agreement(truth, calls, 0.0)["per_set"], ["seen"])
    assert result["design_sets"] == ["seen"] and result["check"]["sets"] == ["apart", "apart2"]
    assert result["design"]["classes"] == 4 and np.isclose(result["design"]["accuracy"], 0.5)
    assert result["check"]["classes"] == 5 and np.isclose(result["check"]["accuracy"], 1 / 5)
    assert np.isclose(result["check"]["always_noise"], 1 / 5)  # answering noise is the baseline itself
    assert result["check"]["per_set"] == {"apart": pytest.approx(1 / 3), "apart2": 0.0}


def test_a_naming_bar_is_picked_on_the_other_sets_and_measured_on_the_held_out_one():
    from relion_cryodiscovery.evaluation.reasons import threshold_for_precision, threshold_leave_one_set_out

    p = np.full((4, len(REASONS)), 0.02, np.float32)
    p[:, 0] = [0.9, 0.8, 0.5, 0.4]  # the two surest calls are right, the others wrong
    truth = np.array([0, 0, 1, 1])
    assert threshold_for_precision(p, truth, 0.99) == 0.55  # 0.55 names the two right ones only
    assert threshold_for_precision(p, truth, 0.5) == 0.3
    result = threshold_leave_one_set_out({"x": truth, "y": truth}, {"x": p, "y": p}, 0.99)
    assert result["min_probability"] == 0.55 and result["held_out"]["bar_per_set"] == {"x": 0.55, "y": 0.55}
    assert result["held_out"]["named"] == 0.5 and result["held_out"]["correct_when_named"] == 1.0


def test_real_classes_join_the_reason_training_with_their_weight_and_a_trained_network_fine_tunes(tmp_path):
    """The labelled real classes become weighted training classes beside simulated junk, and a tiny trained
    reason network restarts (every layer, head included) from its saved file."""
    from relion_cryodiscovery.data.features import FEATURE_NAMES
    from relion_cryodiscovery.evaluation.reasons import LabelledRealSet
    from relion_cryodiscovery.model.network import NetworkConfig
    from relion_cryodiscovery.training.reasons import joined, junk_only, real_training_arrays, train_reasons
    from relion_cryodiscovery.training.trainer import TrainConfig, TrainingArrays

    rng = np.random.default_rng(2)
    f = 2 * len(FEATURE_NAMES)
    sim = junk_only(TrainingArrays(rng.normal(size=(24, 1, 64, 64)).astype(np.float32),
                                   rng.normal(size=(24, f)).astype(np.float32), np.zeros(24), np.repeat(["j1", "j2"], 12)),
                    np.arange(24) % len(REASONS))
    real = [LabelledRealSet(name, rng.normal(size=(3, 1, 64, 64)).astype(np.float32),
                            rng.normal(size=(3, f)).astype(np.float32), np.array([1, 2, 0]), [4, 5, 9])
            for name in ("r1", "r2")]
    extra = real_training_arrays(real, 5.0)
    assert len(extra) == 6 and (extra.weights == 5.0).all() and list(extra.labels) == [1, 2, 0, 1, 2, 0]
    assert set(extra.groups) == {"real:r1", "real:r2"}
    both = joined([sim, extra])
    assert len(both) == 30 and both.n_labels == len(REASONS) and np.allclose(both.weights[:24], sim.weights)
    network, config = NetworkConfig(depth=1, width=4, dense_units=8, metadata_units=4), TrainConfig(epochs=1, batch_size=16, verbose=0)
    first = train_reasons(sim, sim, network, config, tmp_path / "a", log=lambda s: None)
    first.save(tmp_path / "first.keras")
    again = train_reasons(both, sim, network, TrainConfig(epochs=1, batch_size=16, verbose=0, learning_rate=0.0),
                          tmp_path / "b", log=lambda s: None, fine_tune=tmp_path / "first.keras")
    for name in ("conv1", "dense", "label_probabilities"):  # learning rate 0: the trainable weights stay the saved ones
        for w0, w1 in zip(first.get_layer(name).trainable_weights, again.get_layer(name).trainable_weights):
            assert np.array_equal(np.asarray(w0), np.asarray(w1))
