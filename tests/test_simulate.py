"""Fast tests of the simulation package (seconds; no RELION binaries needed)."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from relion_cryodiscovery.relion.classes import ClassSet
from cryodiscovery_dev.simulate import class_average_jobs
from cryodiscovery_dev.simulate.class_average_jobs import (MAX_BOX, RELION_HANDOVER, make_corpus, project_job_spec,
                                                          simulate_project_job, write_class2d_project)
from cryodiscovery_dev.simulate.lab_classes import LabClass, random_job_spec
from cryodiscovery_dev.simulate.ctf import CtfParams, ctf_values, ctf_zero_frequencies, electron_wavelength
from cryodiscovery_dev.simulate.imaging import apply_optics, blob_transfer, project
from cryodiscovery_dev.simulate.particles import ParticleConfig, simulate_particles, write_particle_set
from cryodiscovery_dev.simulate.point_model import splat
from cryodiscovery_dev.simulate.structures import STRUCTURE_KINDS, make_structure, simulate_map
from cryodiscovery_dev.simulate.truth import VIEW_KINDS, is_particle_view

JUNK = {"empty": 0.1, "ice": 0.05, "carbon": 0.05, "aggregate": 0.05, "clipped": 0.05, "fragment": 0.1}
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "class2d_small"


@pytest.fixture(scope="module")
def small_set():
    structure = make_structure("globular", 150, seed=3)
    cfg = ParticleConfig(n_particles=200, box=48, pixel_size=3.0, junk_fractions=JUNK)
    return structure, cfg, simulate_particles([structure], cfg, seed=11)


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


@pytest.fixture(scope="module")
def class2d_project(tmp_path_factory):
    """One simulated job (seed 5) and the project written around it."""
    spec, classes, truth = simulate_project_job(5)
    project = tmp_path_factory.mktemp("class2d_project")
    table = write_class2d_project(project, spec, classes, truth)
    return project, spec, classes, truth, table


def test_project_job_spec_is_a_small_binned_lab_job():
    for seed in range(6):
        spec = project_job_spec(seed)
        lab = random_job_spec(np.random.default_rng([seed, 2]), seed, class_average_jobs.project_models())
        assert spec.seed == seed and spec.models == lab.models and spec.snr == lab.snr
        assert spec.box == min(lab.box, MAX_BOX) and spec.box % 2 == 0
        # binning keeps the field of view (so the particle fills the box as much as the lab's draw)
        assert spec.box * spec.pixel_size == pytest.approx(lab.box * lab.pixel_size, rel=2e-3)
        assert 20 <= spec.n_classes <= 60 and 150 * spec.n_classes <= spec.n_particles <= 600 * spec.n_classes
        assert spec.handover == RELION_HANDOVER
        assert project_job_spec(seed, attempt=1).seed != seed


def test_class2d_project_holds_the_simulated_job(class2d_project):
    project, spec, classes, truth, table = class2d_project
    job = project / "Class2D" / "job001"
    data = starfile.read(job / "run_it025_data.star", always_dict=True)
    model = starfile.read(job / "run_it025_model.star", always_dict=True)
    opt = starfile.read(job / "run_it025_optimiser.star", always_dict=True)
    k = spec.n_classes
    parts = data["particles"]
    # one row per particle of each class, in the 19 columns of RELION 3.1's Class2D (class number 15th)
    assert len(parts.columns) == 19 and list(parts.columns).index("rlnClassNumber") == 14
    counts = np.bincount(parts["rlnClassNumber"], minlength=k + 1)[1:]
    assert np.array_equal(counts, classes.particle_counts)
    assert np.array_equal(counts, [c.n_particles for c in truth])
    assert parts["rlnImageName"].is_unique and parts["rlnImageName"].str.endswith("@Simulated/particles.mrcs").all()
    lo, hi = spec.defocus_range_a
    assert parts["rlnDefocusU"].between(lo - 1000, hi + 1000).all()
    assert data["optics"]["rlnImagePixelSize"].iloc[0] == spec.pixel_size
    # the model star is the simulator's metadata
    rows = model["model_classes"]
    assert len(rows) == k and model["model_general"]["rlnNrClasses"] == k
    assert np.allclose(rows["rlnClassDistribution"] * counts.sum(), counts, atol=0.01)
    assert np.allclose(rows["rlnEstimatedResolution"], classes.metadata["rlnEstimatedResolution"], atol=1e-5)
    assert rows["rlnReferenceImage"].iloc[0] == "000001@Class2D/job001/run_it025_classes.mrcs"
    assert (rows.loc[counts == 0, "rlnAccuracyRotations"] == 999).all()
    assert opt["optimiser_general"]["rlnParticleDiameter"] == pytest.approx(classes.particle_diameter, abs=0.05)
    np.testing.assert_array_equal(mrcfile.read(job / "run_it025_classes.mrcs"), classes.images)
    # the Select job holds the simulator's labels: good and junk classes, no junk kind among the good
    sel = starfile.read(project / "Select" / "job002" / "backup_selection.star")["rlnSelected"].to_numpy()
    assert np.array_equal(sel, [int(c.good) for c in truth]) and np.array_equal(sel, table["label"])
    assert 0 < sel.sum() < k
    assert table.loc[sel == 1, "kind"].isin(VIEW_KINDS).all()
    assert (table.loc[table["kind"].isin(["ice", "carbon_edge", "empty"]), "label"] == 0).all()
    pipe = starfile.read(project / "default_pipeline.star", always_dict=True)
    edges = pipe["pipeline_input_edges"]
    assert ("Class2D/job001/run_it025_model.star", "Select/job002/") in set(
        zip(edges["rlnPipeLineEdgeFromNode"], edges["rlnPipeLineEdgeProcess"]))


def test_particles_of_particle_views_align_better(class2d_project):
    project, _, _, truth, _ = class2d_project
    parts = starfile.read(project / "Class2D/job001/run_it025_data.star", always_dict=True)["particles"]
    view = np.array([is_particle_view(c.kind, c.purity) for c in truth])[parts["rlnClassNumber"] - 1]
    pmax = parts["rlnMaxValueProbDistribution"]
    assert pmax[view].mean() > pmax[~view].mean() + 0.2


def test_a_job_without_good_classes_is_drawn_again(monkeypatch):
    seeds = []

    def all_junk_first(spec):
        seeds.append(spec.seed)
        good = len(seeds) > 2
        return None, [LabClass("particle", 100, 1.0, 8.0, good, "m"), LabClass("ice", 50, 0.0, np.inf, False, "m")]

    monkeypatch.setattr(class_average_jobs, "simulate_job", all_junk_first)
    spec, _, truth = simulate_project_job(11)
    assert len(seeds) == 3 and len(set(seeds)) == 3 and spec.seed == seeds[-1] and truth[0].good
    seeds.clear()
    monkeypatch.setattr(class_average_jobs, "MAX_ATTEMPTS", 2)
    with pytest.raises(RuntimeError, match="no job with both good and junk"):
        simulate_project_job(11)


def test_a_bare_hand_over_cannot_make_a_project(tmp_path):
    spec = project_job_spec(3)
    bare = ClassSet(dimensionality=2, class_numbers=np.arange(1, 3), images=np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="no RELION metadata"):
        write_class2d_project(tmp_path, spec, bare, [])


def test_corpus_deterministic(tmp_path):
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
