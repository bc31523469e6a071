"""The class montage shows each class's whole reason (wrapped, not cut off)."""

from __future__ import annotations

import numpy as np
import pytest

from relion_cryodiscovery.pipeline.montage import REASON_LINES, TILE, _font, wrap_text
from relion_cryodiscovery.selection import SelectionRule, select_classes


def _longest_reasons() -> list[str]:
    """The selection's reasons at their widest numbers, and the longest unusable-image reason."""
    scores = np.array([0.999, 0.001, 0.5, 0.9])
    counts = np.array([999_999, 888_888, 123_456, 100])
    problems = ["", "", "", "non-finite values (NaN or Inf) in class image"]
    reasons = select_classes(scores, counts, problems, SelectionRule(0.75, 200_000, 2)).reasons
    return [r for r in reasons if r] + ["too few particles (199999 < min_particles 200000)"]


@pytest.mark.parametrize("reason", _longest_reasons())
def test_every_selection_reason_fits_whole_under_its_tile(reason: str) -> None:
    font = _font(8)
    lines = wrap_text(reason, font, TILE - 2)
    assert 1 <= len(lines) <= REASON_LINES
    assert " ".join(lines) == reason  # nothing cut, no ellipsis
    assert all(font.getlength(line) <= TILE - 2 for line in lines)


def test_text_beyond_the_last_line_ends_with_an_ellipsis() -> None:
    font = _font(8)
    lines = wrap_text("word " * 200, font, TILE - 2)
    assert len(lines) == REASON_LINES and lines[-1].endswith("…")
    assert "".join(wrap_text("x" * 100, font, TILE - 2, max_lines=10)) == "x" * 100  # a long word is split
