"""The seeds' verification on a RELION-made job: our selection's reconstruction against the truth's."""

from __future__ import annotations

import json
import os

import pytest

from conftest import requires_relion
from relion_cryodiscovery.cli.main import main as cli

pytestmark = [requires_relion, pytest.mark.relion]


def test_fsc_of_selected_particles_against_the_true_map(example_project, example_data_star):
    cwd = os.getcwd()
    os.chdir(example_project)
    try:
        assert cli(["select", "--o", "External/job003/", "--in_parts", example_data_star, "--j", "2"]) == 0
        assert cli(["evaluate", "--pred", "External/job003", "--truth", "Select/job002", "--o", "evaluation",
                    "--particles-truth", "ground_truth/particles_truth.csv",
                    "--reference", "ground_truth/true_map.mrc"]) == 0
    finally:
        os.chdir(cwd)
    metrics = json.loads((example_project / "evaluation" / "metrics.json").read_text())
    fsc = metrics["fsc"]
    # 3 A/px, box 48: Nyquist 6 A. With the true alignment both selections resolve the true map
    # to better than 9 A (the wrong origin sign gives ~20 A).
    assert fsc["prediction vs reference"]["resolution_0143"] < 9.0
    assert fsc["truth vs reference"]["resolution_0143"] < 9.0
    assert metrics["classification"]["n_classes"] == 12
    assert (example_project / "evaluation" / "fsc.png").is_file()
