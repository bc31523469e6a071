"""The job-level out-of-distribution check."""

import numpy as np

from relion_cryodiscovery.data.features import FEATURE_GROUPS, N_FEATURES
from relion_cryodiscovery.model.domain import (MARGIN, check_job, disagreement_rate, domain_columns,
                                               fit_domain_reference, job_distance)


def _jobs(rng, n_jobs: int, per_job: int = 20, shift: float = 0.0):
    features = rng.normal(0, 1, (n_jobs * per_job, 2 * N_FEATURES)) + shift
    return features, np.repeat([f"job{i}" for i in range(n_jobs)], per_job)


def _reference(rng):
    train, train_groups = _jobs(rng, 60)
    val, val_groups = _jobs(rng, 15)
    return fit_domain_reference(train, train_groups, val, val_groups)


def test_columns_are_pixel_features_only():
    assert {FEATURE_GROUPS[i] for i in domain_columns()} == {"image", "spectral"}


def test_threshold_from_validation_jobs():
    ref = _reference(np.random.default_rng(0))
    assert ref["validation_jobs"] == 15 and ref["training_jobs"] == 60
    assert np.isclose(ref["distance_threshold"], MARGIN * ref["validation_distance_quantiles"][-1])


def test_in_domain_job_is_quiet_and_one_far_property_flags():
    rng = np.random.default_rng(1)
    ref = _reference(rng)
    job, _ = _jobs(rng, 1)
    p = rng.random(len(job))
    assert not check_job(job, p, p, ref).out_of_domain
    far = job.copy()
    far[:, domain_columns()[3]] += 5.0  # one pixel feature far outside the training jobs
    check = check_job(far, p, p, ref)
    assert check.out_of_domain and check.distance > ref["distance_threshold"]
    assert "OUT OF DOMAIN" in check.summary()
    metadata_only = job.copy()
    metadata_only[:, 0] += 50.0  # metadata is never part of the check
    assert job_distance(metadata_only, ref) == job_distance(job, ref)


def test_disagreement_is_reported_not_flagged():
    rng = np.random.default_rng(2)
    ref = _reference(rng)
    job, _ = _jobs(rng, 1)
    p1, p2 = np.full(len(job), 0.9), np.full(len(job), 0.1)
    assert disagreement_rate(p1, p2) == 1.0
    check = check_job(job, p1, p2, ref)
    assert check.disagreement == 1.0 and not check.out_of_domain


def test_no_reference_no_check():
    assert check_job(np.zeros((3, 2 * N_FEATURES)), np.zeros(3), np.zeros(3), None) is None


def test_spread_of_a_nearly_constant_measure_is_floored():
    """A measure most training jobs share has a MAD of 0; its spread is the 10-90% range / 2.563, so a job
    inside the training range is not flagged on it."""
    rng = np.random.default_rng(3)
    train, train_groups = _jobs(rng, 60)
    column = domain_columns()[2]
    per_job = np.r_[np.zeros(46), np.linspace(-2, -1, 7), np.linspace(1, 2, 7)]  # 46 of 60 jobs at 0
    train[:, column] = np.repeat(per_job, 20)
    val, val_groups = _jobs(rng, 15)
    val[:, column] = 0.0
    ref = fit_domain_reference(train, train_groups, val, val_groups)
    i = list(ref["columns"]).index(column)
    q10, q90 = np.quantile(per_job, [0.1, 0.9])
    assert q90 - q10 > 0 and np.isclose(ref["scale"][i], (q90 - q10) / 2.563)
    assert abs((1.5 - ref["median"][i]) / ref["scale"][i]) < ref["distance_threshold"]


def test_a_single_typical_class_is_judged_by_the_spread_of_classes_not_of_job_medians():
    """One class at 2 within-job spreads from the centre is an ordinary class, not an odd job; one far
    beyond every class still flags. Without the within-job spread (references before 0.5.1) the ordinary
    class is several job-median spreads out and would be flagged."""
    rng = np.random.default_rng(4)
    ref = _reference(rng)
    column = domain_columns()[5]
    i = list(ref["columns"]).index(column)
    assert 0.8 < ref["within_scale"][i] < 1.2  # the classes' own spread, N(0, 1)
    one = np.zeros((1, 2 * N_FEATURES))
    one[0, column] = 2.0
    p = np.full(1, 0.5)
    assert not check_job(one, p, p, ref).out_of_domain
    old = {k: v for k, v in ref.items() if k != "within_scale"}
    assert job_distance(one, old) > ref["distance_threshold"] > job_distance(one, ref)
    one[0, column] = 12.0
    assert check_job(one, p, p, ref).out_of_domain
