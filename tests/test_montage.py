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


def _asymmetric_map(box: int = 40) -> np.ndarray:
    """Three blobs of different sizes off the centre along x, y and z: no two projections alike."""
    z, y, x = np.indices((box,) * 3) - box // 2
    blobs = [((0, 0, 9), 3.0), ((0, 7, 0), 5.0), ((-6, -4, 0), 2.0)]
    return sum(np.exp(-((z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2) / (2 * s**2))
               for (cz, cy, cx), s in blobs).astype(np.float32)


def _distinct(views: list) -> None:
    """Every two views differ visibly (mean grey-level difference above 5 of 255)."""
    for a in range(len(views)):
        for b in range(a + 1, len(views)):
            assert np.abs(views[a].astype(float) - views[b].astype(float)).mean() > 5, (a, b)


def test_a_3d_class_tile_holds_its_three_projections() -> None:
    from relion_cryodiscovery.data.inputs import model_inputs
    from relion_cryodiscovery.pipeline.montage import PROJECTION_AXES, MontageTiles, map_projections
    from relion_cryodiscovery.pipeline.writing import montage_tiles
    from relion_cryodiscovery.relion.classes import ClassSet

    volume = _asymmetric_map()
    classes = ClassSet(3, [1, 2], np.stack([volume, np.zeros_like(volume)]), pixel_size=3.0, particle_diameter=100.0)
    tiles = montage_tiles(classes, model_inputs(classes))  # the job's: the model's views 0-2
    assert tiles.panels == len(PROJECTION_AXES) == 3
    _distinct(tiles.tiles[0])
    assert tiles.tiles[1] == [None, None, None]  # an empty map: "no image" in each view
    raw = MontageTiles.of_images(classes.images)  # evaluate's and the scripts': the maps' own sums
    _distinct(raw.tiles[0])
    assert [p.shape for p in map_projections(volume)] == [(40, 40)] * 3
    assert np.allclose(map_projections(volume)[0], volume.sum(axis=0))


def test_a_3d_montage_is_wider_tiles_of_three_views_and_2d_is_unchanged(tmp_path) -> None:
    from PIL import Image

    from relion_cryodiscovery.pipeline.montage import (FRAME, INNER, MontageTiles, montage_size, panel_left,
                                                       tile_origin, tile_width)

    assert tile_width(1) == TILE and montage_size(25)[0] == 10 * TILE  # 2D: ten 84-pixel tiles a row
    tiles = MontageTiles.of_images(np.stack([_asymmetric_map()] * 4))
    out = tiles.draw([1, 2, 3, 4], [0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0], ["", "", "low", "low"], tmp_path / "m.png")
    png = np.asarray(Image.open(out).convert("L"))
    assert png.shape[::-1] == montage_size(4, panels=3) and montage_size(4, panels=3)[0] == 3 * tile_width(3)
    x0, y0 = tile_origin(3, 3, panels=3)  # class 4: second row, first column
    views = [png[y0 + FRAME + 12:y0 + FRAME + INNER, x0 + panel_left(p):x0 + panel_left(p) + INNER] for p in range(3)]
    _distinct(views)  # (below the axis letters)
    with pytest.raises(ValueError, match="same number of views"):
        MontageTiles([[np.ones((8, 8))], [np.ones((8, 8))] * 3])
