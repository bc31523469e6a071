"""Discovering labelled jobs in a real RELION project and splitting them by job."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLE
from relion_cryodiscovery.data.labels import labels_from_selection, read_selection
from relion_cryodiscovery.data.preprocess import PreprocessConfig
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.training.corpus import (LabelledJobSource, discover_project, read_labelled_job,
                                                  read_manifest, split_by_group, split_classes,
                                                  subset_classes)


def test_select_job_of_the_real_relion_example_is_discovered():
    sources = discover_project(EXAMPLE)
    assert len(sources) == 1
    assert sources[0].job.name == "run_it018_model.star" and sources[0].selection.name == "job002"
    job = read_labelled_job(sources[0], PreprocessConfig())
    truth = pd.read_csv(EXAMPLE / "ground_truth" / "class_labels.csv")
    assert list(job.labels) == list(truth["label"])
    assert list(job.particle_counts) == list(truth["n_particles"])


def test_every_select_job_file_gives_the_same_labels():
    select = EXAMPLE / "Select" / "job002"
    expected = labels_from_selection(select / "backup_selection.star", 12)
    assert read_selection(select / "backup_selection.star").complete
    for name in ("class_averages.star", "particles.star"):
        found = read_selection(select / name)
        assert not found.complete
        assert list(labels_from_selection(select / name, 12)) == list(expected)


def test_backup_selection_with_wrong_number_of_rows_is_refused():
    with pytest.raises(CryoDiscoveryError, match="has 12 rows but the job has 13 classes"):
        labels_from_selection(EXAMPLE / "Select" / "job002", 13)


def test_manifest_paths_are_relative_to_the_manifest(tmp_path):
    (tmp_path / "m.csv").write_text("job,selection,group\na/run_it025_data.star,a/Select,s1\n")
    (source,) = read_manifest(tmp_path / "m.csv")
    assert source.job == tmp_path / "a" / "run_it025_data.star" and source.group == "s1"
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n")
    with pytest.raises(CryoDiscoveryError, match="job,selection"):
        read_manifest(tmp_path / "bad.csv")


class _Job:
    def __init__(self, group: str, n: int):
        self.source = LabelledJobSource(None, None, group)
        self.labels = np.zeros(n)


def test_split_never_puts_one_group_in_two_sets():
    jobs = [_Job(f"g{i % 7}", 10 + i) for i in range(21)]
    parts = split_by_group(jobs, (0.7, 0.15, 0.15), seed=3)
    groups = [{job.source.group for job in part} for part in parts]
    assert all(part for part in parts)
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert sum(len(part) for part in parts) == len(jobs)
    assert split_by_group(jobs, (0.7, 0.15, 0.15), seed=3) == parts


def test_split_of_three_uneven_jobs_keeps_a_training_job():
    # dealt by class count, the shuffled jobs fill validation before test gets one: the test set's job must
    # come from validation, not from the only training job
    jobs = [_Job("a", 21), _Job("b", 51), _Job("c", 38)]
    for seed in range(20):
        parts = split_by_group(jobs, (0.34, 0.33, 0.33), seed=seed)
        assert [len(part) for part in parts] == [1, 1, 1], seed
    assert [len(part) for part in split_by_group(jobs, (0.66, 0.34, 0.0), seed=0)] == [2, 1, 0]


def test_one_jobs_classes_split_stratified_and_seeded():
    (source,) = discover_project(EXAMPLE)
    job = read_labelled_job(source, PreprocessConfig())
    train, validation = split_classes(job, 0.3, seed=5)
    assert not set(train) & set(validation)
    assert sorted([*train, *validation]) == list(np.flatnonzero(job.inputs.usable))
    for label in (0, 1):  # both labels on both sides
        assert (job.labels[train] == label).any() and (job.labels[validation] == label).any()
    assert [list(part) for part in split_classes(job, 0.3, seed=5)] == [list(train), list(validation)]
    part = subset_classes(job, validation)
    assert list(part.labels) == list(job.labels[validation]) and part.inputs.images.shape[0] == len(validation)


def test_train_on_a_single_select_job_needs_init_from_then_splits_its_classes(session_tiny_model, tmp_path, capsys):
    import json

    from relion_cryodiscovery.cli.main import main as cli

    assert cli(["train", "--project", str(EXAMPLE), "--o", str(tmp_path / "refused"), "--epochs", "1",
                "--quiet"]) == 1
    assert "--init_from" in capsys.readouterr().err
    out = tmp_path / "tuned"
    assert cli(["train", "--project", str(EXAMPLE), "--init_from", str(session_tiny_model), "--o", str(out),
                "--epochs", "1", "--quiet", "--seed", "2"]) == 0
    assert "one labelled job" in capsys.readouterr().out
    split = json.loads((out / "model_card.json").read_text())["extra"]["split"]
    assert split["method"].startswith("one labelled job") and split["job"].endswith("run_it018_model.star")
    assert sorted(split["train_classes"] + split["validation_classes"]) == list(range(1, 13))
    assert json.loads((out / "splits.json").read_text())["class_split"] == split
