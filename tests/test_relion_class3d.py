"""Real RELION Class3D projects with ground truth (corpus/relion3d): labelling rule and reading."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import requires_relion
from cryodiscovery_dev.corpus_paths import RELION_CLASS3D
from cryodiscovery_dev.relion_class3d import (
    MIN_PARTICLES_3D,
    MIN_PURITY_3D,
    MIN_PURITY_ANY_3D,
    Class3DConfig,
    build_class3d_project,
    class_table_3d,
    partial_structure,
)
from relion_cryodiscovery.data.labels import read_selection
from relion_cryodiscovery.data.preprocess import PreprocessConfig
from cryodiscovery_dev.simulate.particles import ParticleConfig
from cryodiscovery_dev.simulate.structures import make_structure
from relion_cryodiscovery.training.corpus import discover_project, read_labelled_job

CORPUS = RELION_CLASS3D


def test_labelling_rule_purity_of_intended_structure_and_size():
    # class 1: 40 intended -> good; class 2: 25 intended + 25 partial (purity 0.5) -> bad;
    # class 3: 10 intended (too small) -> bad; class 4: 25 intended + 9 junk (purity_any 0.735) -> bad;
    # class 5: 30 intended + 10 partial + 5 junk (purity 0.667, purity_any 0.889) -> good; class 6: empty -> bad
    classes = np.repeat([1, 2, 2, 3, 4, 4, 5, 5, 5], [40, 25, 25, 10, 25, 9, 30, 10, 5])
    is_good = np.repeat([1, 1, 1, 1, 1, 0, 1, 1, 0], [40, 25, 25, 10, 25, 9, 30, 10, 5])
    structure = np.repeat([0, 0, 1, 0, 0, 1, 0, 1, 0], [40, 25, 25, 10, 25, 9, 30, 10, 5])
    table = class_table_3d(classes, is_good, structure, 6)
    assert table["label"].tolist() == [1, 0, 0, 0, 1, 0]
    assert table["n_particles"].tolist() == [40, 50, 10, 34, 45, 0]
    assert table["purity"].tolist() == pytest.approx([1.0, 0.5, 1.0, 25 / 34, 30 / 45, 0.0], abs=1e-4)
    assert table["purity_any"].tolist() == pytest.approx([1.0, 1.0, 1.0, 25 / 34, 40 / 45, 0.0], abs=1e-4)
    assert table["frac_partial"].tolist() == pytest.approx([0.0, 0.5, 0.0, 0.0, 10 / 45, 0.0], abs=1e-4)
    # junk counts as junk whatever structure it was rendered from
    assert table["frac_junk"].tolist() == pytest.approx([0.0, 0.0, 0.0, 9 / 34, 5 / 45, 0.0], abs=1e-4)
    assert table["n_good_particles"].tolist() == [40, 25, 10, 25, 30, 0]
    # the thresholds are the documented ones, inclusive
    n = MIN_PARTICLES_3D
    assert class_table_3d([1] * n, [1] * n, [0] * n, 1)["label"].tolist() == [1]
    assert class_table_3d([1] * (n - 1), [1] * (n - 1), [0] * (n - 1), 1)["label"].tolist() == [0]
    assert (MIN_PURITY_3D, MIN_PURITY_ANY_3D) == (0.6, 0.75)


def test_partial_structure_lacks_one_domain_and_is_recentred():
    full = make_structure("globular", 300.0, 7)
    part, info = partial_structure(full, 7)
    assert len(np.unique(part.domains)) == len(np.unique(full.domains)) - 1
    assert info["removed_domain"] not in set(part.domains.tolist())
    centre = (part.coords * part.weights[:, None]).sum(0) / part.weights.sum()
    assert np.allclose(centre, 0.0, atol=1e-6)


def _projects() -> list[Path]:
    return sorted(p for p in CORPUS.glob("relion3d*") if (p / "ground_truth" / "simulation.json").is_file())


def test_committed_class3d_project_reads_as_labelled_3d_classes():
    projects = _projects()
    if not projects:
        pytest.skip("no Class3D project in corpus/relion3d")
    project = projects[0]
    (source,) = discover_project(project)
    assert "Class3D/job001/run_it" in str(source.job) and str(source.job).endswith("_model.star")
    job = read_labelled_job(source, PreprocessConfig())
    truth = pd.read_csv(project / "ground_truth" / "class_labels.csv")
    assert job.dimensionality == 3
    assert job.labels.tolist() == truth["label"].tolist()
    assert job.particle_counts.tolist() == truth["n_particles"].tolist()
    k = len(truth)
    assert job.inputs.images.shape[:2] == (k, 6)  # six views per 3D class
    assert np.isfinite(job.inputs.images).all()
    # the Select job is what RELION writes for a 3D model: backup_selection.star (+ particles.star)
    selection = read_selection(project / "Select" / "job002")
    assert selection.complete and selection.labels.tolist() == truth["label"].tolist()
    summary = json.loads((project / "ground_truth" / "simulation.json").read_text())
    assert summary["n_classes"] == k and summary["class3d_wall_s"] > 0


def test_committed_projects_are_compact():
    for project in _projects():
        size = sum(f.stat().st_size for f in project.rglob("*") if f.is_file())
        assert size < 1.5e6, f"{project} is {size / 1e6:.2f} MB"
        assert not list(project.rglob("*.mrcs")), "particle stacks must not be committed"


@requires_relion
@pytest.mark.relion
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("CRYODISCOVERY_RUN_CLASS3D"), reason="runs relion_refine (~1 min); "
                    "set CRYODISCOVERY_RUN_CLASS3D=1")
def test_tiny_class3d_run_end_to_end(tmp_path):
    cfg = Class3DConfig(
        seed=11, structure_kind="globular", mass_kda=250.0, n_classes=2, n_iter=2, highres_limit_A=30.0,
        particles=ParticleConfig(n_particles=200, box=32, pixel_size=5.0, snr=0.1,
                                 junk_fractions={"empty": 0.1, "ice": 0.05}),
    )
    summary = build_class3d_project(tmp_path / "p", cfg)
    (source,) = discover_project(tmp_path / "p")
    job = read_labelled_job(source, PreprocessConfig())
    assert job.dimensionality == 3 and len(job.labels) == 2
    assert summary["class3d_wall_s"] > 0  # recorded; how long it takes is not a test's business
