"""Fast tests of the simulation package (seconds; no RELION binaries needed)."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from cryodiscovery_dev.simulate.class_average_jobs import FakeJobSpec, make_corpus, make_fake_class2d_job
from cryodiscovery_dev.simulate.ctf import CtfParams, ctf_values, ctf_zero_frequencies, electron_wavelength
from cryodiscovery_dev.simulate.imaging import apply_optics, blob_transfer, project
from cryodiscovery_dev.simulate.particles import ParticleConfig, simulate_particles, write_particle_set
from cryodiscovery_dev.simulate.point_model import splat
from cryodiscovery_dev.simulate.structures import STRUCTURE_KINDS, make_structure, simulate_map
from cryodiscovery_dev.simulate.truth import MIN_PARTICLES, MIN_PURITY

JUNK = {"empty": 0.1, "ice": 0.05, "carbon": 0.05, "aggregate": 0.05, "clipped": 0.05, "fragment": 0.1}
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "class2d_small"


@pytest.fixture(scope="module")
def small_set():
    structure = make_structure("globular", 150, seed=3)
    cfg = ParticleConfig(n_particles=200, box=48, pixel_size=3.0, junk_fractions=JUNK)
    return structure, cfg, simulate_particles([structure], cfg, seed=11)


def small_spec(seed: int = 5) -> FakeJobSpec:
    return FakeJobSpec(seed=seed, structure_kind="symmetric", mass_kda=200.0, pixel_size=3.5, box=48, n_classes=20,
                       n_particles=1500, good_fraction=0.5, snr=0.05, voltage=300.0, preferred_fraction=0.3,
                       n_empty_classes=2, leak=0.1, align_error_deg=3.0, shift_error_px=0.5)


@pytest.mark.parametrize("kind", STRUCTURE_KINDS)
def test_structures_deterministic_and_sized(kind):
    a, prov = simulate_map(kind, 200, pixel_size=3.0, box=48, seed=9)
    b, _ = simulate_map(kind, 200, pixel_size=3.0, box=48, seed=9)
    assert a.shape == (48, 48, 48) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert prov["kind"] == kind and prov["mass_kda"] == 200
    big = make_structure(kind, 1000, seed=9)
    assert big.coords.shape[0] > 4 * make_structure(kind, 200, seed=9).coords.shape[0] * 0.9


def test_projection_is_line_integral_of_map():
    s = make_structure("elongated", 150, seed=2)
    vol = s.render(3.0, 64)
    img = project(s, np.zeros(3), np.zeros(2), 64, 3.0)
    img = apply_optics(img[None], 3.0, [None], blob_transfer(64, 3.0, s.blob_sigma))[0]
    assert np.corrcoef(img.ravel(), vol.sum(axis=0).ravel())[0, 1] > 0.99


def test_ctf_zeros_at_known_defocus():
    lam = electron_wavelength(300.0)
    assert lam == pytest.approx(0.019687, abs=1e-5)
    # Without Cs and amplitude contrast the zeros are at k^2 = n / (lambda * defocus).
    p = CtfParams(20000.0, 20000.0, cs=0.0, amplitude_contrast=0.0)
    expected = np.sqrt(np.arange(1, 4) / (lam * 20000.0))
    assert np.allclose(ctf_zero_frequencies(p), expected)
    # With Cs and amplitude contrast: zeros where the CTF changes sign, first one near 20 A.
    p = CtfParams(20000.0, 20000.0, cs=2.7, amplitude_contrast=0.1)
    z = ctf_zero_frequencies(p)
    assert 1 / z[0] == pytest.approx(20.16, abs=0.05)
    assert np.allclose(ctf_values(z, 0 * z, p), 0, atol=1e-9)
    assert np.all(np.sign(ctf_values(0.99 * z, 0 * z, p)) != np.sign(ctf_values(1.01 * z, 0 * z, p)))
    # Astigmatism: along the defocus-V direction (angle + 90 deg) the zero moves with defocus V.
    q = CtfParams(20000.0, 15000.0, defocus_angle=30.0, cs=2.7, amplitude_contrast=0.1)
    zv = ctf_zero_frequencies(CtfParams(15000.0, 15000.0, cs=2.7, amplitude_contrast=0.1))[0]
    ang = np.deg2rad(120.0)
    assert ctf_values(zv * np.cos(ang), zv * np.sin(ang), q) == pytest.approx(0, abs=1e-9)
    # Low frequencies are positive (protein white, as in RELION's contrast-inverted particles).
    assert ctf_values(np.array(0.005), np.array(0.0), p) > 0


def test_particles_deterministic(small_set):
    structure, cfg, a = small_set
    b = simulate_particles([structure], cfg, seed=11)
    assert np.array_equal(a.images, b.images)
    pd.testing.assert_frame_equal(a.particles, b.particles)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    c = simulate_particles([structure], cfg, seed=12)
    assert not np.array_equal(a.images, c.images)


def test_junk_kinds_in_requested_proportions(small_set):
    _, cfg, pset = small_set
    counts = pset.truth["kind"].value_counts()
    for kind, frac in JUNK.items():
        assert counts[kind] == round(frac * cfg.n_particles)
    assert counts["particle"] == cfg.n_particles - sum(round(f * cfg.n_particles) for f in JUNK.values())
    assert (pset.truth["is_good"] == (pset.truth["kind"] == "particle")).all()


def test_star_files_readable_and_truth_kept_out(small_set, tmp_path):
    _, cfg, pset = small_set
    paths = write_particle_set(pset, tmp_path)
    star = starfile.read(paths["star"], always_dict=True)
    assert set(star) == {"optics", "particles"}
    assert list(star["optics"].columns) == ["rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast",
                                            "rlnSphericalAberration", "rlnVoltage", "rlnImagePixelSize",
                                            "rlnImageSize", "rlnImageDimensionality"]
    parts = star["particles"]
    assert list(parts.columns) == ["rlnImageName", "rlnMicrographName", "rlnDefocusU", "rlnDefocusV",
                                   "rlnDefocusAngle", "rlnPhaseShift", "rlnCtfBfactor", "rlnOpticsGroup"]
    assert parts["rlnImageName"].iloc[0] == "000001@Simulated/particles.mrcs"
    text = paths["star"].read_text()
    for leaked in ("rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi", "rlnOrigin", "kind", "is_good"):
        assert leaked not in text
    assert not set(text.split()) & {"particle", *JUNK}
    truth = pd.read_csv(paths["truth"])
    assert {"kind", "structure_id", "rot", "tilt", "psi", "is_good"} <= set(truth.columns)
    assert (truth["rlnImageName"] == parts["rlnImageName"]).all()
    with mrcfile.open(paths["stack"], permissive=False) as m:
        assert m.data.shape == (cfg.n_particles, 48, 48) and m.data.dtype == np.float32
        assert float(m.voxel_size.x) == pytest.approx(3.0)


def test_fake_job_counts_match_class_numbers(tmp_path):
    table = make_fake_class2d_job(tmp_path, small_spec())
    job = tmp_path / "Class2D" / "job001"
    data = starfile.read(job / "run_it025_data.star", always_dict=True)
    model = starfile.read(job / "run_it025_model.star", always_dict=True)
    opt = starfile.read(job / "run_it025_optimiser.star", always_dict=True)
    k = 20
    counts = np.bincount(data["particles"]["rlnClassNumber"], minlength=k + 1)[1:]
    assert np.array_equal(counts, table["n_particles"].to_numpy())
    classes = model["model_classes"]
    assert len(classes) == k and model["model_general"]["rlnNrClasses"] == k
    assert np.allclose(classes["rlnClassDistribution"] * counts.sum(), counts, atol=0.01)
    assert classes["rlnReferenceImage"].iloc[0] == "000001@Class2D/job001/run_it025_classes.mrcs"
    assert (classes.loc[counts == 0, "rlnAccuracyRotations"] == 999).all()
    assert opt["optimiser_general"]["rlnParticleDiameter"] > 0
    assert mrcfile.read(job / "run_it025_classes.mrcs").shape == (k, 48, 48)
    sel = starfile.read(tmp_path / "Select" / "job002" / "backup_selection.star")["rlnSelected"].to_numpy()
    rule = (table["purity"] >= MIN_PURITY) & (table["n_particles"] >= MIN_PARTICLES)
    assert np.array_equal(sel, rule.astype(int).to_numpy())
    assert 0 < sel.sum() < k
    pipe = starfile.read(tmp_path / "default_pipeline.star", always_dict=True)
    edges = pipe["pipeline_input_edges"]
    assert ("Class2D/job001/run_it025_model.star", "Select/job002/") in set(
        zip(edges["rlnPipeLineEdgeFromNode"], edges["rlnPipeLineEdgeProcess"]))


def test_fake_corpus_deterministic(tmp_path):
    make_corpus(tmp_path / "a", 1, seed=4)
    make_corpus(tmp_path / "b", 1, seed=4)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


@pytest.mark.skipif(not (EXAMPLE / "ground_truth").exists(), reason="bundled example not built")
def test_bundled_example_consistent():
    labels = pd.read_csv(EXAMPLE / "ground_truth" / "class_labels.csv")
    assert list(labels.columns) == ["class_number", "label", "purity", "n_particles", "n_good_particles"]
    data_star = next((EXAMPLE / "Class2D" / "job001").glob("run_it*_data.star"))
    data = starfile.read(data_star, always_dict=True)["particles"]
    counts = np.bincount(data["rlnClassNumber"], minlength=len(labels) + 1)[1:]
    assert np.array_equal(counts, labels["n_particles"].to_numpy())
    sel = starfile.read(EXAMPLE / "Select" / "job002" / "backup_selection.star")["rlnSelected"].to_numpy()
    assert np.array_equal(sel, labels["label"].to_numpy())
    assert 0 < sel.sum() < len(sel)
    assert "is_good" not in (EXAMPLE / "Simulated" / "particles.star").read_text()


@pytest.mark.parametrize("sum_per_corner", [False, True])
def test_splat_shares_a_point_between_its_four_pixels(sum_per_corner):
    # x = 0.25 px right of the centre (2, 2) of a 4 x 4 grid, y = 0.5 px above it
    grid = splat(np.array([[0.25, -0.5]]), np.array([2.0]), (4, 4), sum_per_corner=sum_per_corner)
    expected = np.zeros((4, 4))
    expected[1, 2] = expected[2, 2] = 0.75
    expected[1, 3] = expected[2, 3] = 0.25
    np.testing.assert_array_equal(grid, expected)


@pytest.mark.parametrize("shape", [(48, 48), (32, 32, 32)])
def test_splat_summation_orders_agree_to_rounding(shape):
    rng = np.random.default_rng(0)
    points, weights = rng.normal(0, 3, (5000, 3)), rng.uniform(0.5, 2, 5000)
    one_pass = splat(points, weights, shape)
    per_corner = splat(points, weights, shape, sum_per_corner=True)
    np.testing.assert_allclose(per_corner, one_pass, rtol=0, atol=1e-12 * one_pass.max())
    assert one_pass.sum() == pytest.approx(weights.sum())  # every point inside: nothing lost
