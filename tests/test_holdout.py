"""The real-RELION held-out split (by structure) and the held-out metrics with ablations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from relion_cryodiscovery.data.preprocess import PreprocessConfig
from relion_cryodiscovery.model.ensemble import BoostedEnsemble
from cryodiscovery_dev.holdout import (
    errors_by_purity,
    true_particle_fractions,
    holdout_metrics, is_held_out, project_sources, read_projects, real_projects, split_projects, structure_group,
)

REPO = Path(__file__).resolve().parents[1]


def test_real_projects_are_split_by_structure_and_the_example_is_always_held_out():
    projects = real_projects(REPO)
    assert REPO / "examples" / "class2d_small" in projects
    train, test = split_projects(projects)
    assert REPO / "examples" / "class2d_small" in test
    assert set(train).isdisjoint(test) and len(train) + len(test) == len(projects)
    train_groups = {structure_group(p) for p in train}
    test_groups = {structure_group(p) for p in test}
    assert train_groups.isdisjoint(test_groups - {structure_group(REPO / "examples" / "class2d_small")})
    assert 0.1 < len(test) / len(projects) < 0.6


def test_assignment_is_stable_and_follows_the_fraction():
    groups = [f"globular:{i}" for i in range(2000)]
    first = [is_held_out(g) for g in groups]
    assert first == [is_held_out(g) for g in groups]
    assert 0.25 < np.mean(first) < 0.35
    assert not any(is_held_out(g, 0.0) for g in groups) and all(is_held_out(g, 1.0) for g in groups)


def test_structure_group_uses_the_structure_name_when_there_is_one(tmp_path: Path):
    for name, structure, expected in (("a", {"kind": "atomic", "name": "1abc"}, "structure:1abc"),
                                      ("b", {"kind": "globular"}, "globular:7")):
        (tmp_path / name / "ground_truth").mkdir(parents=True)
        (tmp_path / name / "ground_truth" / "simulation.json").write_text(json.dumps({"seed": 7, "structure": structure}))
        assert structure_group(tmp_path / name) == expected


def test_holdout_metrics_report_the_issue_metrics_and_ablations(session_tiny_model: Path, tmp_path: Path):
    example = tmp_path / "class2d_small"
    shutil.copytree(REPO / "examples" / "class2d_small", example)
    assert {s.group for s in project_sources([example])} == {structure_group(example)}
    ensemble = BoostedEnsemble.load(session_tiny_model)
    jobs = read_projects([example], PreprocessConfig.from_dict(ensemble.card.preprocessing))
    report = holdout_metrics(ensemble, jobs)
    assert report["n_classes"] == int(sum(j.inputs.usable.sum() for j in jobs)) == 12
    for key in ("roc_auc", "accuracy", "false_negative_rate", "ece", "junk_particles_removed", "good_particles_kept"):
        assert key in report
    assert set(report["ablations"]) == {f"{i} / {m}" for i in ("image + metadata", "image only")
                                        for m in ("boosted ensemble", "d1 only", "d2 only", "d3 only")}
    assert report["structures"] == 1 and report["jobs"] == [str(example)]
    # the example has particle-level truth: the oracle (its own labels) and the purity bands are reported
    assert report["true_particles"]["classes"] == 12
    assert sum(band["classes"] for band in report["by_purity"].values()) == 12


def test_true_particle_fractions_count_particles_not_class_labels():
    n_particles, n_good = np.array([100.0, 50.0, 10.0]), np.array([90.0, 10.0, 0.0])
    keep = np.array([True, False, False])
    assert true_particle_fractions(keep, n_particles, n_good) == {"good_particles_kept": 0.9,
                                                                  "junk_particles_removed": 50 / 60}


def test_errors_by_purity_puts_each_class_in_one_band():
    purity = np.array([0.0, 0.49, 0.5, 0.79, 0.8, 1.0])
    truth = np.array([0, 0, 0, 0, 1, 1])
    selected = np.array([0, 1, 1, 0, 1, 0])
    bands = errors_by_purity(truth, selected, purity)
    assert [b["classes"] for b in bands.values()] == [2, 2, 2]
    assert [b["wrong"] for b in bands.values()] == [1, 1, 1]
