"""The one radial distance and soft mask (data/masks.py) and its two centre conventions."""

from __future__ import annotations

import numpy as np
import pytest

from relion_cryodiscovery.data.masks import radial_distance, soft_disc, soft_mask


def test_index_centre_is_element_n_over_2():
    for n in (6, 7):
        distance = radial_distance((n, n))
        assert distance[n // 2, n // 2] == 0 and distance[n // 2, 0] == n // 2


def test_middle_centre_is_symmetric_for_even_sizes():
    distance = radial_distance((6, 6), "middle")
    assert np.array_equal(distance, distance[::-1, ::-1]) and distance.min() == pytest.approx(np.hypot(0.5, 0.5))
    assert radial_distance((6, 6), "middle", unit=3.0).max() == pytest.approx(np.hypot(2.5, 2.5) / 3.0)


def test_raised_cosine_edge_values():
    mask = soft_mask((1, 41), radius=10.0, edge=4.0)[0, 20:]  # distances 0..20 along one row
    assert np.all(mask[:11] == 1.0) and np.all(mask[14:] == 0.0)
    assert mask[12] == pytest.approx(0.5)  # half-way through the edge
    assert np.all(np.diff(mask[10:15]) < 0)


def test_three_dimensions_and_hard_edge():
    ball = soft_mask((9, 9, 9), radius=2.0, edge=0.0)
    assert set(np.unique(ball)) == {0.0, 1.0} and ball.sum() == 33  # lattice points within radius 2
    assert soft_disc(9, 2.0, 1.0).shape == (9, 9)


def test_unknown_centre_is_refused():
    with pytest.raises(ValueError, match="centre"):
        radial_distance((4, 4), "corner")
