"""The selection rule."""

import numpy as np
import pytest

from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.selection import SelectionRule, select_classes


def test_threshold_particles_and_empty_images():
    scores = np.array([0.9, 0.2, 0.95, 0.8, 0.7])
    counts = np.array([100, 100, 0, 3, 50])
    problems = ["", "", "", "", "empty class image (constant or all zero)"]
    result = select_classes(scores, counts, problems, SelectionRule(0.5, min_particles=5))
    assert list(result.selected) == [True, False, False, False, False]
    assert result.reasons[1] == "score 0.200 < min_score 0.500"
    assert result.reasons[2] == "no particles in this class"
    assert result.reasons[3].startswith("too few particles")
    assert result.reasons[4].startswith("empty image")


def test_min_classes_adds_best_remaining():
    scores = np.array([0.3, 0.45, 0.1, 0.9])
    result = select_classes(scores, np.full(4, 10), [""] * 4, SelectionRule(0.5, min_classes=3))
    assert list(result.selected) == [True, True, False, True]
    assert "min_classes" in result.reasons[0]


def test_nothing_passes_says_which_parameter_to_change():
    with pytest.raises(CryoDiscoveryError, match="lower min_score or set min_classes"):
        select_classes(np.array([0.1, 0.2]), np.array([10, 10]), ["", ""], SelectionRule(0.5))
    with pytest.raises(CryoDiscoveryError, match="lower min_particles"):
        select_classes(np.array([0.9]), np.array([3]), [""], SelectionRule(0.5, min_particles=10))


def test_scoring_may_select_nothing():
    result = select_classes(np.array([0.1, 0.2]), None, ["", ""], SelectionRule(0.5), allow_empty=True)
    assert not result.selected.any()
    assert result.reasons == ["score 0.100 < min_score 0.500", "score 0.200 < min_score 0.500"]


def test_a_score_equal_to_min_score_is_kept():
    result = select_classes(np.array([0.5, 0.4999]), np.array([10, 10]), ["", ""], SelectionRule(0.5))
    assert list(result.selected) == [True, False]
    assert result.threshold == 0.5


def test_job_relative_bar_raises_the_threshold_in_a_job_of_strong_classes():
    # five sharp classes at 0.98-0.99 and blobs at 0.3-0.9: the bar (gap 2 logits) drops the blobs
    scores = np.array([0.99, 0.99, 0.985, 0.98, 0.98, 0.9, 0.7, 0.3])
    rule = SelectionRule(0.177, relative_gap=2.0, label="strictness strict")
    result = select_classes(scores, None, [""] * 8, rule)
    assert list(result.selected) == [True] * 5 + [False] * 3
    assert 0.9 < result.threshold < 0.98
    assert "job-relative bar" in result.reasons[5] and "strictness strict" in result.reasons[5]


def test_job_relative_bar_never_lowers_min_score():
    # an early-round job of weak classes, and a job of only junk: min_score alone decides
    weak = np.array([0.3, 0.25, 0.2, 0.1, 0.05])
    result = select_classes(weak, None, [""] * 5, SelectionRule(0.177, relative_gap=2.0), allow_empty=True)
    assert result.threshold == 0.177 and list(result.selected) == [True, True, True, False, False]
    junk = np.array([0.1, 0.05, 0.02])
    result = select_classes(junk, None, [""] * 3, SelectionRule(0.177, relative_gap=2.0), allow_empty=True)
    assert not result.selected.any()


def test_best_classes_are_the_top_fifth_within_one_and_five():
    from relion_cryodiscovery.selection import best_classes

    assert list(best_classes(np.array([0.1, 0.9, 0.5]))) == [1]
    assert len(best_classes(np.linspace(0, 1, 100))) == 5
    assert sorted(best_classes(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]))) == [8, 9]


def test_job_relative_bar_waits_for_near_certain_best_classes():
    # best classes at ~0.95: below relative_from 0.97, so min_score alone decides; at ~0.99 the bar applies
    rule = SelectionRule(0.177, relative_gap=2.0, relative_from=0.97)
    modest = np.array([0.95, 0.95, 0.6, 0.3, 0.2])
    assert select_classes(modest, None, [""] * 5, rule).selected.all()
    sharp = np.array([0.99, 0.99, 0.6, 0.3, 0.2])
    assert list(select_classes(sharp, None, [""] * 5, rule).selected) == [True, True, False, False, False]


def test_operating_points_of_a_card():
    from relion_cryodiscovery.model.shipped import default_model_dir
    from relion_cryodiscovery.model.card import ModelCard

    card = ModelCard.load(default_model_dir())
    rules = {level: SelectionRule.at(card.operating_point(level)) for level in ("lenient", "balanced", "strict")}
    for level, rule in rules.items():
        assert 0 < rule.min_score <= card.threshold
        assert (rule.relative_gap is not None) == (level != "lenient")  # lenient: no job-relative bar
        assert (rule.lower_gap is not None) == (level != "strict")  # strict: no lowered bar for weak jobs
    # strict's bar drops classes that look less unlike the best than balanced's does
    assert rules["strict"].relative_detail < rules["balanced"].relative_detail
    assert rules["strict"].relative_centre < rules["balanced"].relative_centre
    # a hollow view as sharp as the best is never "emptier at the centre" (0.8.1)
    assert rules["balanced"].centre_detail == rules["strict"].centre_detail == 0.1
    with pytest.raises(CryoDiscoveryError, match="strictness"):
        card.operating_point("very")


def test_with_relative_detail_the_bar_drops_only_coarser_classes():
    # best classes at 0.99 with spectral resolution 1.30; a blob (1.05) and a sharp rare view (1.28) both score 0.6
    scores = np.array([0.99, 0.99, 0.6, 0.6, 0.1])
    resolution = np.array([1.30, 1.31, 1.05, 1.28, np.nan])
    rule = SelectionRule(0.177, relative_gap=2.0, relative_from=0.97, relative_detail=0.15)
    result = select_classes(scores, None, [""] * 5, rule, resolution=resolution)
    assert list(result.selected) == [True, True, False, True, False]
    assert "kept below the job-relative bar" in result.reasons[3] and "as sharp" in result.reasons[3]
    assert "job-relative bar" in result.reasons[2] and "min_score" not in result.reasons[4]
    # without the resolutions nothing is known to look unlike the best: the bar drops neither
    assert list(select_classes(scores, None, [""] * 5, rule).selected) == [True, True, True, True, False]


def test_with_relative_centre_the_bar_also_drops_classes_emptier_at_the_centre():
    # best classes with centre density 1.6; below the bar: an off-centre blob (0.9, as sharp as the best),
    # a class as dense and as sharp (kept), a coarse class as dense (dropped by relative_detail)
    scores = np.array([0.99, 0.99, 0.8, 0.8, 0.8, 0.95])
    resolution = np.array([1.30, 1.30, 1.29, 1.28, 0.95, 1.30])
    centre = np.array([1.6, 1.6, 0.9, 1.5, 1.7, 1.6])
    rule = SelectionRule(0.177, relative_gap=2.0, relative_from=0.95, relative_detail=0.3, relative_centre=0.4)
    result = select_classes(scores, None, [""] * 6, rule, resolution=resolution, centre=centre)
    assert list(result.selected) == [True, True, False, True, False, True]
    assert "as dense at the centre (within 0.4)" in result.reasons[2]
    # NaN (an unusable measure) never marks a class as unlike the best
    centre[2] = np.nan
    assert select_classes(scores, None, [""] * 6, rule, resolution=resolution, centre=centre).selected[2]
    # the margins must be 0 or more
    with pytest.raises(CryoDiscoveryError, match="relative_centre"):
        select_classes(scores, None, [""] * 6, SelectionRule(0.177, relative_gap=2.0, relative_centre=-1.0))


def test_a_weak_job_keeps_classes_that_look_like_its_best_below_min_score():
    # an early round: every class scores below min_score; the best two (0.30, 0.25) set a lowered bar at
    # sigmoid(mean logit - 2) ~ 0.04; a class at 0.09 as sharp and as dense as them is kept, a class at 0.09
    # that is a coarse blob, a class at 0.09 empty at the centre, and a class at 0.01 are not
    scores = np.array([0.30, 0.25, 0.09, 0.09, 0.09, 0.01, 0.2, 0.2, 0.2, 0.2])
    resolution = np.array([1.0, 1.0, 0.98, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    centre = np.array([1.5, 1.5, 1.4, 1.5, 0.5, 1.5, 1.5, 1.5, 1.5, 1.5])
    rule = SelectionRule(0.177, relative_detail=0.25, relative_centre=0.4, lower_gap=2.0, lower_below=0.5,
                         lower_from=0.15)
    result = select_classes(scores, None, [""] * 10, rule, resolution=resolution, centre=centre)
    assert list(result.selected[:6]) == [True, True, True, False, False, False]
    assert result.reasons[2].startswith("kept below min_score 0.177: a weak job")
    assert result.reasons[3].startswith("score 0.090 < min_score")
    # min_score alone (no lowered bar) keeps only the classes at or above it
    plain = select_classes(scores, None, [""] * 10, SelectionRule(0.177), resolution=resolution, centre=centre)
    assert list(plain.selected[:6]) == [True, True, False, False, False, False]


def test_the_lowered_bar_leaves_strong_jobs_and_jobs_of_only_junk_alone():
    rule = SelectionRule(0.177, relative_detail=0.25, relative_centre=0.4, lower_gap=2.0, lower_below=0.5,
                         lower_from=0.15)
    alike = np.ones(6)
    # a strong job (best classes >= lower_below): a class at 0.1 stays below min_score
    strong = np.array([0.9, 0.1, 0.05, 0.05, 0.05, 0.05])
    assert list(select_classes(strong, None, [""] * 6, rule, allow_empty=True, resolution=alike,
                               centre=alike).selected) == [True] + [False] * 5
    # a job of only junk (best classes below lower_from, e.g. ice): nothing is kept
    junk = np.array([0.12, 0.08, 0.05, 0.05, 0.02, 0.01])
    assert not select_classes(junk, None, [""] * 6, rule, allow_empty=True, resolution=alike, centre=alike).selected.any()
    with pytest.raises(CryoDiscoveryError, match="lower_from"):
        select_classes(junk, None, [""] * 6, SelectionRule(0.177, lower_gap=2.0, lower_from=0.6, lower_below=0.5))


def test_the_bar_drops_a_featureless_blob_coarser_and_denser_at_the_centre():
    # a high-resolution job (best classes 0.99, resolution 1.28, centre 2.05): below the bar, a blob coarser by
    # 0.2 and denser by 0.5 is dropped; a rare view as coarse but no denser, and a class as dense but as sharp,
    # are kept (neither alone marks a class unlike the best when the other margins are not crossed)
    scores = np.array([0.99, 0.99, 0.99, 0.99, 0.99, 0.7, 0.7, 0.7])
    resolution = np.array([1.28] * 5 + [1.08, 1.08, 1.27])
    centre = np.array([2.05] * 5 + [2.55, 2.0, 2.6])
    rule = SelectionRule(0.177, relative_gap=2.0, relative_from=0.95, relative_detail=0.25, relative_centre=0.4,
                         blob_detail=0.15, blob_centre=0.2)
    result = select_classes(scores, None, [""] * 8, rule, resolution=resolution, centre=centre)
    assert list(result.selected) == [True] * 5 + [False, True, True]
    assert "not a blob" in result.reasons[6]
    without = SelectionRule(0.177, relative_gap=2.0, relative_from=0.95, relative_detail=0.25, relative_centre=0.4)
    assert select_classes(scores, None, [""] * 8, without, resolution=resolution, centre=centre).selected.all()


def test_with_centre_detail_a_hollow_view_as_sharp_as_the_best_is_not_dropped():
    # best classes (0.99; resolution 1.20, centre 2.1); below the bar, both emptier at the centre by 0.6: a ring-like
    # view of a large complex as sharp as the best (1.15: 0.05 coarser) and an off-centre blob 0.2 coarser
    scores = np.array([0.99, 0.99, 0.99, 0.99, 0.99, 0.6, 0.6])
    resolution = np.array([1.20] * 5 + [1.15, 1.00])
    centre = np.array([2.1] * 5 + [1.5, 1.5])
    rule = SelectionRule(0.177, relative_gap=2.0, relative_from=0.95, relative_detail=0.25, relative_centre=0.4,
                         centre_detail=0.1)
    result = select_classes(scores, None, [""] * 7, rule, resolution=resolution, centre=centre)
    assert list(result.selected) == [True] * 6 + [False]
    assert "as dense at the centre (within 0.4 or as sharp within 0.1)" in result.reasons[5]
    # without centre_detail (0.8.0's rule) the centre alone drops both
    centre_alone = SelectionRule(0.177, relative_gap=2.0, relative_from=0.95, relative_detail=0.25,
                                 relative_centre=0.4)
    assert list(select_classes(scores, None, [""] * 7, centre_alone, resolution=resolution,
                               centre=centre).selected) == [True] * 5 + [False, False]
    # the centre rule needs the resolution to say "coarser": without it, the centre alone drops nothing
    assert select_classes(scores, None, [""] * 7, rule, centre=centre).selected.all()
    with pytest.raises(CryoDiscoveryError, match="centre_detail"):
        select_classes(scores, None, [""] * 7, SelectionRule(0.177, relative_gap=2.0, centre_detail=-0.1))


def test_the_selection_says_what_the_bars_changed_against_min_score_alone():
    # a strong job: the bar drops the two classes at 0.7 and 0.3 (both above min_score 0.177), not the one at 0.1
    scores = np.array([0.99, 0.99, 0.985, 0.98, 0.98, 0.7, 0.3, 0.1])
    result = select_classes(scores, None, [""] * 8, SelectionRule(0.177, relative_gap=2.0))
    assert list(result.dropped_by_bar) == [False] * 5 + [True, True, False]
    assert not result.kept_by_lowered_bar.any()
    numbers = np.arange(11, 19)
    assert result.bar_summary(numbers, 0.177) == [
        "the job-relative bar dropped 2 classes scoring at least min_score 0.177 (classes 16, 17): below the job's "
        "best classes and unlike them; strictness lenient judges by its min_score alone"]
    assert result.bar_summary(numbers, 0.177, most=1)[0].startswith(
        "the job-relative bar dropped 2 classes scoring at least min_score 0.177 (classes 16, ...)")
    # a weak job: the lowered bar's keeps are named; min_score alone changes nothing, so nothing is said
    weak = np.array([0.30, 0.25, 0.09, 0.01])
    alike = np.ones(4)
    lowered = select_classes(weak, None, [""] * 4, SelectionRule(0.177, lower_gap=2.0, lower_below=0.5, lower_from=0.2),
                             resolution=alike, centre=alike)
    assert list(lowered.kept_by_lowered_bar) == [False, False, True, False]
    assert lowered.bar_summary(np.arange(1, 5), 0.177) == [
        "a weak job's lowered bar kept 1 class scoring below min_score 0.177 (class 3): close to the job's best "
        "classes and like them"]
    assert select_classes(weak, None, [""] * 4, SelectionRule(0.177)).bar_summary(np.arange(1, 5), 0.177) == []
