"""The model card's junk-kind section (scripts/render_model_card.py, issue #23): real figures first, and a
reason model trained on the labelled real classes shown by its held-out (leave-one-real-set-out) figures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from relion_cryodiscovery.model.reasons import REASONS


def _render():
    path = Path(__file__).resolve().parents[1] / "scripts" / "render_model_card.py"
    spec = importlib.util.spec_from_file_location("render_model_card_for_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _metrics(accuracy: float, sets: dict[str, float]) -> dict:
    per_reason = {r: {"support": 2, "predicted": 2, "recall": 0.5, "precision": 0.5} for r in REASONS}
    return {"pooled": {"classes": 12, "accuracy": accuracy, "per_reason": per_reason,
                       "baseline_most_common": {"reason": "low resolution", "accuracy": 0.41},
                       "confident": {"min_probability": 0.85, "named": 0.2, "correct_when_named": 0.8}},
            "per_set": {name: {"classes": 6, "accuracy": a} for name, a in sets.items()}}


def _sim() -> dict:
    return {"classes": 100, "accuracy": 0.78, "confident": {"named": 0.5, "correct_when_named": 0.9},
            "per_reason": {r: {"support": 10, "recall": 0.8, "precision": 0.8} for r in REASONS}}


def test_a_model_never_trained_on_real_classes_is_shown_by_them_with_the_recipes_tried():
    real = _metrics(0.39, {"s1": 0.3, "s2": 0.5})
    real["trained_on_these_classes"] = False
    tried = [{"recipe": "fine-tuned with real classes", "loso": _metrics(0.37, {"s1": 0.2, "s2": 0.5})}]
    threshold = {"held_out": {"named": 0.21, "correct_when_named": 0.74}}
    text = "\n".join(_render().reasons_section({
        "real_by_eye": real, "simulated_holdout": _sim(),
        "training": {"real_training_tried": tried, "real_threshold": threshold, "min_probability_rule": "picked on real"}}))
    assert "has not been trained on any real class" in text and "Agreement **0.39**" in text
    assert "fine-tuned with real classes: **0.37** (`s1` 0.20, `s2` 0.50)" in text
    assert "0.21 of the real classes named, 0.74 of those right" in text and "(picked on real)" in text
    assert "no better than always answering `low resolution`" in text


def test_a_model_trained_on_the_real_classes_leads_with_its_held_out_figures():
    real = _metrics(0.9, {"s1": 0.9, "s2": 0.9})
    real["trained_on_these_classes"] = True
    loso = _metrics(0.6, {"s1": 0.55, "s2": 0.65})
    text = "\n".join(_render().reasons_section({"real_by_eye": real, "simulated_holdout": _sim(),
                                                "training": {"real_leave_one_set_out": loso}}))
    assert "Held-out agreement **0.60**" in text and "(not a measurement): 0.90" in text
    assert "Per real set (held out): `s1` 6 classes, agreement 0.55" in text
    assert "no better than" not in text
