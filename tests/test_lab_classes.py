"""The lab-like producer: deterministic, in the ranges the issue asks for, labels by the stated rule."""

import numpy as np
import pytest

from relion_cryodiscovery.simulate import lab_classes as lc


def _spec(seed: int, **handover) -> lc.LabJobSpec:
    rng = np.random.default_rng(seed)
    spec = lc.random_job_spec(rng, seed, ["hiv_protease", "adenylate_kinase_open"])
    spec.n_classes = 12
    spec.n_particles = 12 * 500
    spec.handover.update(handover)
    return spec


def test_same_seed_same_job():
    a, ta = lc.simulate_job(_spec(3))
    b, tb = lc.simulate_job(_spec(3))
    np.testing.assert_array_equal(a.images, b.images)
    assert [t.kind for t in ta] == [t.kind for t in tb]


@pytest.mark.parametrize("seed", range(6))
def test_geometry_in_range(seed):
    rng = np.random.default_rng(seed)
    spec = lc.random_job_spec(rng, seed, lc.model_pool())
    assert 64 <= spec.box <= 400
    assert 0.8 <= spec.pixel_size <= 4.5
    fill = spec.diameter_a / (spec.box * spec.pixel_size)
    assert 0.3 <= fill <= 0.9


def test_labels_follow_the_rule():
    classes, truth = lc.simulate_job(_spec(5, style="relion_float", metadata="relion"))
    for t in truth:
        assert t.good == lc.label_is_good(t.kind, t.purity, t.resolution_a, classes.pixel_size,
                                          lc.point_model(t.model).diameter_a)
    assert classes.particle_counts.sum() > 0
    assert set(classes.metadata) >= {"rlnClassDistribution", "rlnEstimatedResolution"}


def test_more_particles_resolve_better():
    spec = _spec(7, style="relion_float", metadata="relion")
    sim = lc._JobSimulator(spec, np.random.default_rng(0))
    model = sim.models[0]
    signal = sim.particle_signal(model, sim._random_rotation(), 1.0, 0.5)
    sigma = sim.noise_sigma(model)
    _, few = sim.average(signal, 30, sigma, 0.0)
    _, many = sim.average(signal, 30000, sigma, 0.0)
    assert many < few


def test_eight_bit_and_bare_handover():
    classes, _ = lc.simulate_job(_spec(9, style="eight_bit", metadata="bare", header_pixel_size=False))
    assert classes.images.min() >= 0 and classes.images.max() <= 255
    assert np.allclose(classes.images, np.round(classes.images))
    assert classes.particle_diameter is None and classes.pixel_size is None and not classes.metadata


def test_figure_handover_resamples():
    spec = _spec(11, style="figure", metadata="bare", figure_scale=1.5)
    classes, _ = lc.simulate_job(spec)
    assert classes.images.shape[-1] == int(np.clip(round(spec.box * 1.5), 48, 480))


def test_filaments_are_seen_side_on():
    names = [n for n in lc.model_pool() if lc.point_model(n).shape == "filament"]
    model = lc.point_model(names[0])
    sim = lc._JobSimulator(_spec(13), np.random.default_rng(0))
    for _ in range(5):
        axis_in_view = sim._random_rotation(model).apply(model.axis)
        assert abs(axis_in_view[2]) < 1e-6  # the filament axis lies in the image plane


def test_membrane_models_are_the_same_in_every_process():
    """The micelle is seeded from the model's name, not from Python's per-process str hash."""
    import os
    import subprocess
    import sys

    name = next(n for n in lc.model_pool() if lc.point_model(n).shape == "membrane")
    code = ("from relion_cryodiscovery.simulate import lab_classes as lc; "
            f"m = lc.point_model({name!r}); print(len(m.xyz), repr(float(m.xyz.sum())))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outputs) == 1
