"""Contrast polarity: a job with the protein dark is detected and scored flipped back."""

import dataclasses

import numpy as np
import pytest

from relion_cryodiscovery.data.inputs import model_inputs
from relion_cryodiscovery.data.polarity import job_polarity
from relion_cryodiscovery.relion.classes import ClassSet


def _blob_job(sign: float, k: int = 6, box: int = 64) -> ClassSet:
    """Centred dense blobs of different shapes on flat solvent with noise (protein white for sign +1)."""
    rng = np.random.default_rng(3)
    y, x = np.indices((box, box)) - box // 2
    images = []
    for i in range(k):
        a, b = 10 + i, 14 - i / 2
        blob = np.exp(-((x / a) ** 2 + (y / b) ** 2) * 2)
        images.append(sign * blob + rng.normal(0, 0.05, (box, box)))
    return ClassSet(2, np.arange(1, k + 1), np.array(images, np.float32), pixel_size=2.0, particle_diameter=100.0)


def test_protein_white_is_normal_and_protein_dark_is_inverted():
    white, dark = _blob_job(+1.0), _blob_job(-1.0)
    w = model_inputs(white)
    d = model_inputs(dark)
    assert not job_polarity(w.features, w.usable).inverted
    detected = job_polarity(d.features, d.usable)
    assert detected.inverted and detected.how == "detected" and detected.statistic < 0
    assert "INVERTED" in detected.summary()


def test_the_parameter_forces_either_polarity():
    d = model_inputs(_blob_job(-1.0))
    assert not job_polarity(d.features, d.usable, "normal").inverted
    w = model_inputs(_blob_job(+1.0))
    forced = job_polarity(w.features, w.usable, "inverted")
    assert forced.inverted and forced.how.startswith("forced")
    with pytest.raises(ValueError):
        job_polarity(w.features, w.usable, "upside-down")


def test_flat_or_unmeasurable_jobs_are_scored_as_given():
    flat = _blob_job(0.0)
    f = model_inputs(flat)
    result = job_polarity(f.features, f.usable)
    assert not result.inverted and result.how.startswith("undetermined")
    assert not job_polarity(np.zeros((0, f.features.shape[1])), np.zeros(0, bool)).inverted


def test_flipped_inputs_equal_the_right_way_up():
    white = _blob_job(+1.0)
    dark = dataclasses.replace(white, images=-white.images)
    a, b = model_inputs(white), model_inputs(dataclasses.replace(dark, images=-dark.images))
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.features, b.features)


def test_an_inverted_stack_is_scored_as_the_right_way_up(example_project, tmp_path):
    """The bundled example's classes with the protein dark: detected, said in the outputs, same scores."""
    import mrcfile
    import pandas as pd

    from relion_cryodiscovery.cli.main import main as cli

    stack = sorted((example_project / "Class2D" / "job001").glob("run_it*_classes.mrcs"))[-1]
    data = mrcfile.read(stack)
    inverted = tmp_path / "inverted.mrcs"
    with mrcfile.new(inverted) as mrc:
        mrc.set_data(-data)
        mrc.voxel_size = 3.0
    runs = {}
    for name, path in (("upright", stack), ("inverted", inverted)):
        out = tmp_path / name
        assert cli(["score", "--i", str(path), "--o", str(out), "--angpix", "3.0", "--gpus", "cpu"]) == 0
        runs[name] = (pd.read_csv(out / "cryodiscovery_scores.csv"), (out / "cryodiscovery_scores.json").read_text())
    np.testing.assert_allclose(runs["inverted"][0]["score"], runs["upright"][0]["score"], atol=1e-5)
    assert "INVERTED" in runs["inverted"][1] and "INVERTED" not in runs["upright"][1]
