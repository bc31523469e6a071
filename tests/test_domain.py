"""The job-level out-of-distribution check: the feature distance (every model since 0.2.0, the whole check
of cards without view signals) and the mechanics of the view signals (models from 0.6.0) on synthetic views.
What the view signals catch, on simulated class averages and non-cryo-EM inputs: ``test_domain_probes.py``."""

import json

import numpy as np
import pytest

from relion_cryodiscovery.data.features import FEATURE_GROUPS, N_FEATURES
from relion_cryodiscovery.data.masks import radial_distance
from relion_cryodiscovery.model.card import FORMAT_VERSION, ModelCard
from relion_cryodiscovery.model.domain import (MARGIN, MIN_CLASSES, REFERENCE_FILE, DomainCheck, DomainReference,
                                               attach_domain_reference, check_job, disagreement_rate, domain_columns,
                                               fit_domain_reference, fit_feature_reference, job_distance,
                                               view_measures)


def _jobs(rng, n_jobs: int, per_job: int = 20, shift: float = 0.0):
    features = rng.normal(0, 1, (n_jobs * per_job, 2 * N_FEATURES)) + shift
    return features, np.repeat([f"job{i}" for i in range(n_jobs)], per_job)


def _reference(rng):
    train, train_groups = _jobs(rng, 60)
    val, val_groups = _jobs(rng, 15)
    return fit_feature_reference(train, train_groups, val, val_groups)


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
    ref = fit_feature_reference(train, train_groups, val, val_groups)
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


def test_a_reference_without_views_is_the_feature_distance_only():
    rng = np.random.default_rng(5)
    train, train_groups = _jobs(rng, 30)
    val, val_groups = _jobs(rng, 8)
    ref = fit_domain_reference(train, train_groups, val, val_groups)
    assert ref.views is None and ref.features == fit_feature_reference(train, train_groups, val, val_groups)


# ---------------------------------------------------------------------------------------------
# The view signals on synthetic 64 px views

SIZE = 64
RADIUS = radial_distance((SIZE, SIZE), "middle", SIZE / 2.0)
EDGE = np.clip((1.0 - RADIUS) / 0.1, 0, 1)  # the views' soft edge, roughly


def _blobs(rng, n: int) -> np.ndarray:
    """Centred elliptical blobs (either contrast) on flat solvent with a little noise: class-average-like views."""
    y, x = np.indices((SIZE, SIZE)) - (SIZE - 1) / 2.0
    out = []
    for _ in range(n):
        a, b = rng.uniform(4, 9, 2)
        t = rng.uniform(0, np.pi)
        u, v = x * np.cos(t) + y * np.sin(t), -x * np.sin(t) + y * np.cos(t)
        blob = np.exp(-0.5 * ((u / a) ** 2 + (v / b) ** 2)) * rng.uniform(2, 4) * rng.choice([-1, 1])
        out.append((blob + rng.normal(0, 0.05, blob.shape)) * EDGE)
    return np.array(out, np.float32)[:, None]


def _noise(rng, n: int) -> np.ndarray:
    return (rng.normal(0, 1, (n, SIZE, SIZE)) * EDGE).astype(np.float32)[:, None]


def _ramps(rng, n: int) -> np.ndarray:
    y, x = np.indices((SIZE, SIZE)) - (SIZE - 1) / 2.0
    angles = rng.uniform(0, 2 * np.pi, n)
    return np.array([(x * np.cos(t) + y * np.sin(t)) / 16 * EDGE for t in angles], np.float32)[:, None]


@pytest.fixture(scope="module")
def synthetic_reference() -> DomainReference:
    """A reference fitted on jobs of blob views (random feature rows), 8 principal components."""
    rng = np.random.default_rng(11)
    train, train_groups = _jobs(rng, 24, per_job=12)
    val, val_groups = _jobs(rng, 8, per_job=12)
    return fit_domain_reference(train, train_groups, val, val_groups, train_images=_blobs(rng, len(train)),
                                val_images=_blobs(rng, len(val)), train_labels=np.ones(len(train)),
                                val_labels=np.ones(len(val)), seed=3, components=8)


def _check(reference, images, rng=None, **kw):
    features, _ = _jobs(rng or np.random.default_rng(0), 1, per_job=len(images))
    p = np.zeros(len(images))
    return check_job(features, p, p, reference, images, **kw)


def test_view_measures_tell_blobs_noise_and_ramps_apart(synthetic_reference):
    rng = np.random.default_rng(12)
    basis = synthetic_reference.views.basis
    blobs, noise, ramps = (view_measures(f(rng, 10), basis) for f in (_blobs, _noise, _ramps))
    assert np.median(noise["reconstruction"]) > 0.8 > 0.2 > np.median(blobs["reconstruction"])
    assert np.median(ramps["solvent_energy"]) > -0.5 > -2 > np.median(blobs["solvent_energy"])
    assert np.median(noise["solvent_detail"]) > -0.5 > -2 > np.median(blobs["solvent_detail"])


def test_view_signals_flag_noise_and_ramps_not_blobs(synthetic_reference):
    rng = np.random.default_rng(13)
    quiet = _check(synthetic_reference, _blobs(rng, 20))
    assert not quiet.out_of_domain and {s.name for s in quiet.signals} == {"reconstruction", "solvent"}
    noise = _check(synthetic_reference, _noise(rng, 20))
    assert noise.out_of_domain and {s.name for s in noise.signals if s.fired} == {"reconstruction", "solvent"}
    ramp = _check(synthetic_reference, _ramps(rng, 20))
    assert ramp.out_of_domain and "solvent" in {s.name for s in ramp.signals if s.fired}
    one = _check(synthetic_reference, _noise(rng, 1))  # a job of one image: the few-class thresholds
    assert one.out_of_domain and one.signals[0].threshold == synthetic_reference.views.threshold("reconstruction", 1)


def test_few_class_thresholds_are_never_below_the_whole_job_ones(synthetic_reference):
    views = synthetic_reference.views
    for name, job in views.job_thresholds.items():
        assert len(views.few_thresholds[name]) == MIN_CLASSES - 1
        assert all(t >= job for t in views.few_thresholds[name])
        assert views.threshold(name, MIN_CLASSES) == job == views.threshold(name, 200)


def test_summary_and_dict_name_the_signal_that_fired(synthetic_reference):
    check = _check(synthetic_reference, _ramps(np.random.default_rng(14), 12))
    summary = check.summary()
    assert summary.startswith("OUT OF DOMAIN: ") and "over 12 classes" in summary and "\n" not in summary
    solvent = check.signals[1]
    assert solvent.name == "solvent" and f"solvent {solvent.value:.3g} (> {solvent.threshold:.3g}" in summary
    assert summary.index("solvent") < summary.index("features ")  # fired signals first, the quiet one after
    as_dict = check.to_dict()
    assert as_dict["out_of_domain"] is True and "solvent" in as_dict["fired"] and "features" not in as_dict["fired"]
    solvent_dict = as_dict["signals"]["solvent"]
    assert solvent_dict["fired"] and solvent_dict["value"] > solvent_dict["threshold"]


def test_a_job_without_a_usable_class_is_out_of_domain(synthetic_reference):
    p = np.zeros(0)
    none = np.zeros((0, 1, SIZE, SIZE))
    check = check_job(np.zeros((0, 2 * N_FEATURES)), p, p, synthetic_reference, none, unusable=3)
    assert check.out_of_domain and check.no_usable_class
    assert check.summary().startswith("OUT OF DOMAIN: none of the 3 class images is usable")
    assert check_job(np.zeros((0, 2 * N_FEATURES)), p, p, synthetic_reference) is None  # nothing at all: no check


def test_old_checks_still_construct_positionally():
    assert DomainCheck(20.0, 0.0, 15.0).out_of_domain and not DomainCheck(1.0, 0.0, 15.0).out_of_domain
    assert DomainCheck(1.0, 0.0, 15.0).summary().startswith("in domain: features 1")


def _model_dir(tmp_path):
    card = ModelCard(format_version=FORMAT_VERSION, model_version="test-1", created="2026-01-01T00:00:00+00:00",
                     preprocessing={"image_size": 64}, feature_names=["a", "b"], feature_fills=[0.5, 1.0],
                     n_features=4, network={}, calibration={}, threshold=0.4, threshold_rule="rule",
                     training_data={}, validation_metrics={}, ece=0.0)
    card.save(tmp_path)
    return tmp_path


def test_the_reference_travels_in_the_model_directory(synthetic_reference, tmp_path):
    model = _model_dir(tmp_path)
    entry = attach_domain_reference(model, synthetic_reference)
    card = ModelCard.load(model)
    assert card.directory == model and "directory" not in json.loads((model / "model_card.json").read_text())
    views = card.extra["domain"]["views"]
    assert views == entry["views"] and views["file"] == REFERENCE_FILE and len(views["sha256"]) == 64
    with np.load(model / REFERENCE_FILE, allow_pickle=False) as arrays:
        assert arrays["components"].shape == (8, int((RADIUS <= 1.0).sum()))
    images = _noise(np.random.default_rng(15), 20)
    from_card = _check(card.extra["domain"], images, model_dir=card.directory)
    in_memory = _check(synthetic_reference, images)
    assert from_card.to_dict() == in_memory.to_dict() and from_card.out_of_domain and not from_card.note


def test_an_altered_or_missing_reference_file_leaves_the_feature_distance(synthetic_reference, tmp_path):
    model = _model_dir(tmp_path)
    entry = attach_domain_reference(model, synthetic_reference)
    path = model / REFERENCE_FILE
    with np.load(path, allow_pickle=False) as arrays:
        altered = dict(arrays)
    altered["mean"] = altered["mean"] + 1.0
    np.savez(path, **altered)
    images = _blobs(np.random.default_rng(16), 12)
    check = _check(entry, images, model_dir=model)
    assert check.signals == () and "SHA-256" in check.note and check.note in check.summary()
    path.unlink()
    assert "unusable" in _check(entry, images, model_dir=model).note
    assert _check(entry, images).note  # no model directory given
    features_only = {k: v for k, v in entry.items() if k != "views"}  # a card from before 0.6.0
    old = _check(features_only, images)
    assert old.signals == () and not old.note and old.out_of_domain == (old.distance > old.distance_threshold)


def test_without_views_the_check_says_so(synthetic_reference):
    rng = np.random.default_rng(17)
    features, _ = _jobs(rng, 1, per_job=10)
    p = np.zeros(10)
    check = check_job(features, p, p, synthetic_reference)
    assert check.signals == () and "no views" in check.note
