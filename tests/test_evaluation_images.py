"""MSE/SSIM, particle alignment (checked against relion_project), class montage size and speed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from skimage.io import imread

from relion_cryodiscovery.evaluation.image_metrics import (
    align_particle,
    compare,
    compare_class_selections,
    mse,
    ssim,
)
from relion_cryodiscovery.pipeline.montage import TILE, TITLE_BAND, class_montage, montage_size
from test_evaluation_helpers import relion_project, write_map


def blob_image(n: int = 48) -> np.ndarray:
    """An asymmetric test image: a bar along +x and a spot at +y."""
    img = np.zeros((n, n))
    img[n // 2 - 2:n // 2 + 2, n // 2:n // 2 + 14] = 1.0
    img[n // 2 + 6:n // 2 + 12, n // 2 - 2:n // 2 + 2] = 1.0
    return img


def blob_volume(n: int) -> np.ndarray:
    """The 2D test pattern extruded along z, so a rot = tilt = 0 projection shows it."""
    vol = np.zeros((n,) * 3, np.float32)
    vol[n // 2 - 4:n // 2 + 4] = blob_image(n)
    return vol


def test_identical_images_ssim_one_mse_zero() -> None:
    img = np.random.default_rng(0).normal(size=(40, 40))
    assert ssim(img, img) == pytest.approx(1.0)
    assert mse(img, img) == pytest.approx(0.0)
    assert ssim(img, 5 * img + 3) == pytest.approx(1.0)  # normalised first
    other = np.random.default_rng(1).normal(size=(40, 40))
    assert compare(img, other)["ssim"] < 0.1
    assert mse(img, other) == pytest.approx(2.0, rel=0.15)  # two independent unit-variance images
    assert ssim(np.full((9, 9), np.nan), np.zeros((9, 9))) == pytest.approx(1.0)


def test_compare_class_selections() -> None:
    rng = np.random.default_rng(0)
    imgs = {k: rng.normal(size=(16, 16)) for k in range(1, 6)}
    same = compare_class_selections({k: imgs[k] for k in (1, 2)}, {k: imgs[k] for k in (1, 2)})
    assert same["mean_of_kept"]["ssim"] == pytest.approx(1.0)
    assert same["per_class_mean"]["mse"] == pytest.approx(0.0)
    diff = compare_class_selections({k: imgs[k] for k in (1, 2)}, {k: imgs[k] for k in (2, 3, 4)})
    assert diff["mean_of_kept"]["mse"] > 0.1 and list(diff["per_class"]) == [2]
    assert "note" in compare_class_selections({}, {1: imgs[1]})


def test_align_particle_inverts_relion_in_plane_model() -> None:
    """psi = 90: particle(x, y) = ref(A^-1 (r + o)) = ref(x', y') with x' = -(y + oy), y' = x + ox."""
    n, ox, oy = 48, 3, -2
    ref = blob_image(n)
    c = n // 2
    y, x = np.indices((n, n)) - c
    src_x, src_y = -(y + oy), x + ox
    inside = (np.abs(src_x) < c) & (np.abs(src_y) < c)
    particle = np.where(inside, ref[(src_y + c) % n, (src_x + c) % n], 0.0)
    aligned = align_particle(particle, 90.0, ox, oy)
    assert np.abs(aligned - ref).max() < 1e-6
    assert np.abs(align_particle(particle, -90.0, ox, oy) - ref).max() > 0.5


@pytest.mark.relion
@pytest.mark.skipif(shutil.which("relion_project") is None, reason="relion_project not on PATH")
def test_align_particle_matches_relion_project(tmp_path: Path) -> None:
    import mrcfile
    import pandas as pd

    n, angpix = 48, 2.0
    write_map(tmp_path / "map.mrc", blob_volume(n), angpix)
    poses = pd.DataFrame({"rlnAngleRot": 0.0, "rlnAngleTilt": 0.0, "rlnAnglePsi": [0.0, 30.0, -75.0, 140.0],
                          "rlnOriginXAngst": [0.0, 6.0, -8.0, 4.0], "rlnOriginYAngst": [0.0, -4.0, 2.0, 8.0],
                          "rlnOpticsGroup": 1})
    relion_project(tmp_path, "map.mrc", poses, angpix, n, "proj")
    proj = mrcfile.read(tmp_path / "proj.mrcs")
    for i in range(1, 4):
        row = poses.iloc[i]
        ox, oy = row.rlnOriginXAngst / angpix, row.rlnOriginYAngst / angpix
        aligned = align_particle(proj[i], row.rlnAnglePsi, ox, oy)
        assert np.corrcoef(aligned.ravel(), proj[0].ravel())[0, 1] > 0.95


@pytest.mark.parametrize("k", [7, 200])
def test_montage_png_has_the_documented_size(tmp_path: Path, k: int) -> None:
    rng = np.random.default_rng(k)
    images = rng.normal(size=(k, 64, 64)).astype(np.float32)
    images[0] = np.nan
    images[1] = 2.0
    reasons = ["selected" if i % 2 else "score below threshold 0.50 and very long text" for i in range(k)]
    out = class_montage(images, np.arange(1, k + 1), rng.random(k), np.arange(k) % 2, reasons,
                        tmp_path / "m.png")
    width, height = montage_size(k)
    png = imread(out)
    assert png.shape[:2] == (height, width)
    # frames: class 1 (index 0) rejected -> orange, class 2 kept -> blue (top-left pixel of each tile)
    assert tuple(png[TITLE_BAND, 0, :3]) == (0xE6, 0x9F, 0x00)
    assert tuple(png[TITLE_BAND, TILE, :3]) == (0x00, 0x72, 0xB2)


def test_montage_draws_without_matplotlibs_font(tmp_path: Path, monkeypatch) -> None:
    """Where Matplotlib's DejaVu Sans is missing, Pillow's own font is used."""
    from relion_cryodiscovery.pipeline import montage

    monkeypatch.setattr(montage.importlib.util, "find_spec", lambda name: None)
    montage._font.cache_clear()
    try:
        out = class_montage(np.random.default_rng(0).normal(size=(3, 32, 32)), [1, 2, 3], [0.9, 0.1, 0.5],
                            [1, 0, 1], ["good", "junk", "good"], tmp_path / "m.png")
    finally:
        montage._font.cache_clear()
    png = imread(out)
    assert png.shape[:2] == montage_size(3)[::-1]
    text_band = png[TITLE_BAND + TILE:TITLE_BAND + TILE + 20, :, :3]
    assert (text_band < 200).any()  # the labels were drawn


def test_montage_rejects_mismatched_lengths(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        class_montage(np.zeros((3, 8, 8)), [1, 2], [0.1, 0.2], [0, 1], ["", ""], tmp_path / "m.png")


def test_out_of_domain_warning_leads_the_title_and_fits_a_one_class_montage(tmp_path: Path) -> None:
    """The warning comes before the input path, so cutting a long path to the montage's width keeps it, and a
    montage of one class is still wide enough to show it."""
    from types import SimpleNamespace

    from relion_cryodiscovery.model.domain import DomainCheck
    from relion_cryodiscovery.pipeline.montage import MIN_WIDTH, TITLE_PX, _fit, _font
    from relion_cryodiscovery.pipeline.writing import montage_title

    card = SimpleNamespace(model_version="9.9")
    long_path = "/data/projects/" + "deep/" * 30 + "Class2D/job042/run_it025_optimiser.star"
    title = montage_title(long_path, card, DomainCheck(20.0, 0.0, 15.0))
    assert montage_title("x.mrcs", card, DomainCheck(1.0, 0.0, 15.0)) == "x.mrcs (9.9)"
    assert montage_size(1)[0] == MIN_WIDTH > TILE
    shown = _fit(f"{title}: 1/1 selected", _font(TITLE_PX, bold=True), MIN_WIDTH - 8)
    assert shown.startswith("OUT OF DOMAIN: look before trusting") and shown.endswith("…")
    out = class_montage(np.random.default_rng(1).normal(size=(1, 32, 32)), [1], [0.9], [1], ["selected"],
                        tmp_path / "one.png", title=title)
    png = imread(out)
    assert png.shape[:2] == montage_size(1)[::-1]
    assert (png[:TITLE_BAND, 2 * TILE:, :3] < 100).any()  # the title runs on past the single tile
