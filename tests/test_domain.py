"""The job-level out-of-distribution check."""

import numpy as np

from relion_cryodiscovery.data.features import N_FEATURES
from relion_cryodiscovery.model.domain import check_job, class_distances, disagreement_rate, domain_columns


def _reference(rng):
    columns = domain_columns()
    train = rng.normal(0, 1, (2000, 2 * N_FEATURES))
    return {"columns": columns.tolist(), "median": np.median(train[:, columns], 0).tolist(),
            "scale": np.ones(len(columns)).tolist(), "distance_threshold": 1.5}


def test_columns_are_pixel_features_only():
    from relion_cryodiscovery.data.features import FEATURE_GROUPS
    assert {FEATURE_GROUPS[i] for i in domain_columns()} == {"image", "spectral"}


def test_in_domain_job_is_quiet_and_shifted_job_is_flagged():
    rng = np.random.default_rng(0)
    ref = _reference(rng)
    job = rng.normal(0, 1, (40, 2 * N_FEATURES))
    p = rng.random(40)
    assert not check_job(job, p, p, ref).out_of_domain
    shifted = job.copy()
    shifted[:, ref["columns"]] += 4.0
    check = check_job(shifted, p, p, ref)
    assert check.out_of_domain and check.distance > 3
    assert "OUT OF DOMAIN" in check.summary()


def test_disagreement_is_reported_not_flagged():
    rng = np.random.default_rng(1)
    ref = _reference(rng)
    job = rng.normal(0, 1, (20, 2 * N_FEATURES))
    p1, p2 = np.full(20, 0.9), np.full(20, 0.1)
    assert disagreement_rate(p1, p2) == 1.0
    check = check_job(job, p1, p2, ref)
    assert check.disagreement == 1.0 and not check.out_of_domain


def test_fit_reference_threshold_from_validation_jobs():
    from relion_cryodiscovery.model.domain import MARGIN, fit_domain_reference

    rng = np.random.default_rng(3)
    train = rng.normal(0, 1, (3000, 2 * N_FEATURES))
    val = rng.normal(0, 1, (200, 2 * N_FEATURES))
    groups = np.repeat(np.arange(10), 20)
    ref = fit_domain_reference(train, val, groups)
    assert ref["validation_jobs"] == 10
    assert np.isclose(ref["distance_threshold"], MARGIN * ref["validation_distance_quantiles"][-1])
    assert not check_job(val[:20], np.zeros(20), np.zeros(20), ref).out_of_domain


def test_no_reference_no_check():
    assert check_job(np.zeros((3, 2 * N_FEATURES)), np.zeros(3), np.zeros(3), None) is None


def test_distance_clips():
    rng = np.random.default_rng(2)
    ref = _reference(rng)
    far = np.full((1, 2 * N_FEATURES), 1e9)
    assert np.isclose(class_distances(far, ref)[0], 5.0)
