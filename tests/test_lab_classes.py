"""The lab-like producer: deterministic, in the ranges the issue asks for, labels known cases right."""

import numpy as np
import pytest

from cryodiscovery_dev.simulate import lab_classes as lc
from cryodiscovery_dev.simulate.lab_averaging import JobSimulator
from cryodiscovery_dev.simulate.lab_junk import JUNK_SIGNALS, junk_signal
from cryodiscovery_dev.simulate.lab_models import model_pool, point_model
from cryodiscovery_dev.simulate.truth import GOOD_RESOLUTION_A, PARTICLE, label_is_good


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
    spec = lc.random_job_spec(rng, seed, model_pool())
    assert 64 <= spec.box <= 400
    assert 0.8 <= spec.pixel_size <= 4.5
    fill = spec.diameter_a / (spec.box * spec.pixel_size)
    assert 0.3 <= fill <= 0.9


#: Pure junk: never good, however many particles and whatever the resolution (mixed and misaligned classes
#: are judged by purity and resolution instead).
PURE_JUNK = set(lc.JUNK_KINDS) - {"mixed", "misaligned"}


@pytest.mark.parametrize("case, good", [
    # (kind, purity, resolution A, pixel A, diameter A)
    (("particle", 1.0, 4.0, 1.0, 100.0), True),      # secondary structure resolved
    (("particle", 1.0, 12.0, 1.0, 100.0), True),     # exactly 12 A
    (("particle", 1.0, 12.5, 1.0, 100.0), False),    # a 100 A particle at 12.5 A: too coarse
    (("particle", 1.0, 13.0, 4.5, 100.0), True),     # binned data: three pixels at 4.5 A/px is 13.5 A
    (("particle", 1.0, 40.0, 1.0, 400.0), True),     # a large complex: a ninth of 400 A is 44 A
    (("particle", 1.0, 25.0, 1.0, 100.0), False),    # a blob: a quarter of the particle across
    (("mixed", 0.8, 5.0, 1.0, 100.0), True),         # mostly one view
    (("mixed", 0.6, 5.0, 1.0, 100.0), False),        # a mixture of views
    (("misaligned", 0.9, 30.0, 1.0, 100.0), False),  # does not average
    (("ice", 1.0, 3.0, 1.0, 100.0), False),          # sharp ice is still ice
    (("empty", 0.0, 3.0, 1.0, 100.0), False),
])
def test_label_of_known_cases(case, good):
    assert label_is_good(*case) is good


def test_ice_and_other_pure_junk_are_never_good():
    """A job of only junk with 30,000 particles a class: ice classes reach particle-like resolutions
    (<= 12 A) and are still labelled bad, as is every other kind of pure junk."""
    spec = _spec(0)
    spec.n_classes, spec.n_particles, spec.junk_fraction = 24, 24 * 30000, 1.0
    _, truth = lc.simulate_job(spec)
    ice = [t for t in truth if t.kind == "ice"]
    assert ice and min(t.resolution_a for t in ice) <= GOOD_RESOLUTION_A  # the case is exercised
    assert not any(t.good for t in truth if t.kind in PURE_JUNK)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_a_sharp_30000_particle_view_is_good(seed):
    """A perfectly aligned particle view averaged from 30,000 particles resolves below 12 A and is good;
    the same view blurred to 30% of the particle's diameter (a blob) is not."""
    spec = _spec(seed)
    sim = JobSimulator(spec, np.random.default_rng(0))
    model = sim.models[0]
    signal = sim.recentre(sim.particle_signal(model, sim.random_rotation(model), 0.0, 0.0))
    sigma = sim.noise_sigma(model)
    _, sharp = sim.average(signal, 30000, sigma, 0.0)
    assert sharp <= GOOD_RESOLUTION_A
    assert label_is_good(PARTICLE, 1.0, sharp, spec.pixel_size, model.diameter_a)
    _, blurred = sim.average(signal, 30000, sigma, lc.MODERATE_B_PER_A2 * (0.3 * model.diameter_a) ** 2)
    assert not label_is_good(PARTICLE, 1.0, blurred, spec.pixel_size, model.diameter_a)


def test_a_relion_handover_carries_counts_and_metadata():
    classes, truth = lc.simulate_job(_spec(5, style="relion_float", metadata="relion"))
    assert list(classes.particle_counts) == [t.n_particles for t in truth]
    assert classes.particle_counts.sum() > 0
    assert set(classes.metadata) >= {"rlnClassDistribution", "rlnEstimatedResolution"}


def test_more_particles_resolve_better():
    spec = _spec(7, style="relion_float", metadata="relion")
    sim = JobSimulator(spec, np.random.default_rng(0))
    model = sim.models[0]
    signal = sim.particle_signal(model, sim.random_rotation(), 1.0, 0.5)
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
    names = [n for n in model_pool() if point_model(n).shape == "filament"]
    model = point_model(names[0])
    sim = JobSimulator(_spec(13), np.random.default_rng(0))
    for _ in range(5):
        axis_in_view = sim.random_rotation(model).apply(model.axis)
        assert abs(axis_in_view[2]) < 1e-6  # the filament axis lies in the image plane


def test_membrane_models_are_the_same_in_every_process():
    """The micelle is seeded from the model's name, not from Python's per-process str hash."""
    import os
    import subprocess
    import sys

    name = next(n for n in model_pool() if point_model(n).shape == "membrane")
    code = ("from cryodiscovery_dev.simulate.lab_models import point_model; "
            f"m = point_model({name!r}); print(len(m.xyz), repr(float(m.xyz.sum())))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outputs) == 1


def test_every_junk_kind_a_job_draws_has_a_signal():
    assert set(lc.JUNK_KINDS) | {"stripes", "aligned_noise"} == set(JUNK_SIGNALS)
    sim = JobSimulator(_spec(3), np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown junk kind"):
        junk_signal(sim, "fog", sim.models[0], 1.0)


@pytest.mark.parametrize("kind", ["ice", "carbon_edge", "blob", "noise_attractor", "streaky", "stripes"])
def test_junk_without_a_particle_view_has_purity_zero(kind):
    sim = JobSimulator(_spec(3), np.random.default_rng(1))
    spectrum, purity, extra_b = junk_signal(sim, kind, sim.models[0], 1.0)
    assert purity == 0.0 and extra_b >= 0.0
    assert spectrum.shape == sim.grid.k.shape and np.abs(spectrum).max() > 0


def test_a_point_model_is_a_structure_of_its_atoms():
    """The lab's point model is the simulators' one point type: its chains are its domains, and a membrane
    protein's micelle is one domain more."""
    from cryodiscovery_dev.simulate.atomic import load_model
    from cryodiscovery_dev.simulate.point_model import Structure

    name = next(n for n in model_pool() if point_model(n).shape == "membrane")
    model, atoms = point_model(name), load_model(name)
    assert isinstance(model, Structure) and model.xyz is model.coords
    assert len(model.coords) > len(atoms.xyz)  # the micelle's pseudo-atoms
    assert set(np.unique(model.domains)) == set(np.unique(atoms.chain)) | {atoms.chain.max() + 1}
