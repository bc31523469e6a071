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
