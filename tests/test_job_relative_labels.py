"""The simulators' job-relative labels and the decision probes' job specs (issue #20)."""

import numpy as np

from cryodiscovery_dev.lab_corpus import model_split
from cryodiscovery_dev.probes import early_round_spec, junk_only, tight_box_spec
from cryodiscovery_dev.simulate.truth import job_relative_labels


def test_a_blob_of_a_sharp_job_is_junk_relative_to_the_job():
    # a 4 A job: good classes at 4 and 7 A are kept, a 12 A view (good by the absolute rule) is not
    labels = job_relative_labels(["particle"] * 3 + ["ice"], [1.0] * 4, [4.0, 7.0, 12.0, 9.0], [True, True, True, False])
    assert list(labels) == [True, True, False, False]


def test_a_first_round_keeps_the_views_that_show_the_particle():
    # no class is good by the absolute rule: the views within 1.5x of the sharpest view are good, not the
    # coarser view, not the mixture below the purity bar, not the ice
    kinds = ["particle", "particle", "particle", "mixed", "ice"]
    labels = job_relative_labels(kinds, [1.0, 1.0, 1.0, 0.5, 0.0], [15.0, 20.0, 30.0, 15.0, 14.0], [False] * 5)
    assert list(labels) == [True, True, False, False, False]


def test_a_job_of_only_junk_keeps_nothing():
    labels = job_relative_labels(["ice", "carbon_edge", "aggregate"], [0.0, 0.0, 0.2], [8.0, 9.0, 10.0], [False] * 3)
    assert not labels.any()
    assert list(junk_only(np.array([1, 0, 1, 0]))) == [1, 3]


def test_probe_specs_draw_early_rounds_and_tight_boxes():
    train, _ = model_split()
    for seed in range(5):
        early = early_round_spec(np.random.default_rng([seed, 1]), seed, train)
        assert 10 <= early.n_classes <= 40
        assert 150 <= early.n_particles / early.n_classes <= 2500
        assert 150 <= early.bfactor <= 400
        tight = tight_box_spec(np.random.default_rng([seed, 1]), seed, train)
        fill = tight.diameter_a / (tight.box * tight.pixel_size)
        assert 64 <= tight.box <= 400 and 0.84 <= fill <= 1.01
