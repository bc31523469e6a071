"""The simulator's real-looking noise junk (``aligned_noise``, issue #23): drawn only on request, deterministic,
no particle in it, taught as ``noise``; the default junk mix unchanged."""

from dataclasses import replace

import numpy as np
import pytest

from cryodiscovery_dev.simulate import lab_classes as lc
from cryodiscovery_dev.simulate import lab_junk
from cryodiscovery_dev.simulate.lab_averaging import JobSimulator
from relion_cryodiscovery.model.reasons import REASONS, SIMULATED_KIND_REASONS, reason_labels


def _spec(seed: int, junk_fraction: float = 0.75) -> lc.LabJobSpec:
    spec = lc.random_job_spec(np.random.default_rng(seed), seed, ["hiv_protease", "adenylate_kinase_open"])
    spec.n_classes = 12
    spec.n_particles = 12 * 500
    return replace(spec, junk_fraction=junk_fraction)


def test_aligned_noise_draws_junk_without_a_particle():
    sim = JobSimulator(_spec(3), np.random.default_rng(1))
    spectrum, purity, extra_b = lab_junk.junk_signal(sim, "aligned_noise", sim.models[0], 1.0)
    assert purity == 0.0 and extra_b >= 0.0
    assert spectrum.shape == sim.grid.k.shape and np.isfinite(spectrum).all() and np.abs(spectrum).max() > 0


def test_aligned_noise_is_deterministic_per_seed():
    def draw(seed):
        sim = JobSimulator(_spec(3), np.random.default_rng(seed))
        return lab_junk.junk_signal(sim, "aligned_noise", sim.models[0], 1.0)[0]

    np.testing.assert_array_equal(draw(4), draw(4))
    assert not np.allclose(draw(4), draw(5))
    a, ta = lc.simulate_job(_spec(7, 1.0), {"aligned_noise": 1.0})
    b, tb = lc.simulate_job(_spec(7, 1.0), {"aligned_noise": 1.0})
    np.testing.assert_array_equal(a.images, b.images)
    assert ta == tb


def test_a_job_of_aligned_noise_is_all_noise_junk():
    classes, truth = lc.simulate_job(_spec(7, 1.0), {"aligned_noise": 1.0})
    assert {t.kind for t in truth} == {"aligned_noise"}
    assert all(t.purity == 0.0 and not t.good for t in truth)
    assert np.isfinite(classes.images).all()
    assert SIMULATED_KIND_REASONS["aligned_noise"] == "noise"
    labels = reason_labels([t.kind for t in truth], [t.good for t in truth])
    assert (labels == REASONS.index("noise")).all()


def test_on_request_kinds_are_not_in_the_default_mix():
    assert set(lab_junk.ON_REQUEST_KINDS) <= set(lab_junk.JUNK_SIGNALS)
    assert not set(lab_junk.ON_REQUEST_KINDS) & set(lab_junk.JUNK_KINDS)
    assert set(lab_junk.JUNK_KINDS) | set(lab_junk.ON_REQUEST_KINDS) == set(lab_junk.JUNK_SIGNALS)


#: Kinds and particle counts of two default-mix jobs, as the simulator drew them before ``aligned_noise`` was added.
DEFAULT_JOBS = {
    3: (["noise_attractor", "clipped", "carbon_edge", "neighbours", "misaligned", "particle", "particle", "particle",
         "ice", "ice", "clipped", "misaligned"], [167, 201, 134, 226, 527, 544, 342, 2089, 98, 64, 397, 1211]),
    5: (["ice", "mixed", "particle", "particle", "particle", "noise_attractor", "carbon_edge", "neighbours", "mixed",
         "misaligned", "neighbours", "neighbours"], [24, 493, 460, 423, 551, 112, 14, 63, 3050, 134, 525, 152]),
}


@pytest.mark.parametrize("seed", sorted(DEFAULT_JOBS))
def test_default_mix_unchanged(seed, monkeypatch):
    classes, truth = lc.simulate_job(_spec(seed))
    assert ([t.kind for t in truth], [t.n_particles for t in truth]) == DEFAULT_JOBS[seed]

    def never(*args):
        raise AssertionError("the default mix drew an on-request kind")

    for kind in lab_junk.ON_REQUEST_KINDS:  # the default mix never calls them: its draws are the same
        monkeypatch.setitem(lab_junk.JUNK_SIGNALS, kind, never)
    again, _ = lc.simulate_job(_spec(seed))
    np.testing.assert_array_equal(classes.images, again.images)
