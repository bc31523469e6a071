"""FSC: identity, independent noise, a known 0.143 crossing, masking; relion_reconstruct wrapper."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from relion_cryodiscovery.data.masks import soft_mask
from relion_cryodiscovery.evaluation.fsc import fsc, reconstruct_with_relion, shell_index
from test_evaluation_helpers import random_poses, relion_project, two_blob_volume, write_map


def test_fsc_of_map_with_itself_is_one() -> None:
    m = np.random.default_rng(0).normal(size=(32, 32, 32))
    curve = fsc(m, m, pixel_size=1.5)
    assert np.allclose(curve.fsc, 1.0)
    assert curve.resolution(0.143) == pytest.approx(3.0)  # never drops: Nyquist
    assert curve.frequency[-1] == pytest.approx(0.5 / 1.5)


def test_fsc_of_independent_noise_is_near_zero() -> None:
    rng = np.random.default_rng(1)
    curve = fsc(rng.normal(size=(48,) * 3), rng.normal(size=(48,) * 3), pixel_size=1.0)
    assert np.abs(curve.fsc[2:]).max() < 0.15
    assert abs(curve.fsc[5:].mean()) < 0.01


def test_0143_crossing_lands_where_designed() -> None:
    n, angpix = 64, 2.0
    rng = np.random.default_rng(2)
    signal, noise = rng.normal(size=(n,) * 3), rng.normal(size=(n,) * 3)
    shells = shell_index((n,) * 3)
    c = np.clip(1.0 - shells / 16.0, 0.0, 1.0)  # designed FSC(shell) = 1 - shell/16
    mixed = c * np.fft.rfftn(signal) + np.sqrt(1 - c ** 2) * np.fft.rfftn(noise)
    other = np.fft.irfftn(mixed, s=(n,) * 3, axes=(0, 1, 2))
    curve = fsc(signal, other, angpix)
    expected_shell = 16.0 * (1 - 0.143)
    assert curve.resolution(0.143) == pytest.approx(n * angpix / expected_shell, rel=0.03)
    assert curve.resolution(0.5) == pytest.approx(n * angpix / 8.0, rel=0.03)


def test_frc_on_2d_and_soft_mask() -> None:
    img = np.random.default_rng(3).normal(size=(40, 40))
    assert np.allclose(fsc(img, img, 1.0).fsc, 1.0)
    mask = soft_mask((40, 40, 40), radius=10, edge=4)
    assert mask[20, 20, 20] == 1.0 and mask[0, 0, 0] == 0.0
    assert 0 < mask[20, 20, 32] < 1
    with pytest.raises(ValueError):
        fsc(img, img[:20], 1.0)


@pytest.mark.relion
@pytest.mark.skipif(shutil.which("relion_project") is None or shutil.which("relion_reconstruct") is None,
                    reason="RELION binaries not on PATH")
def test_reconstruct_with_relion_recovers_the_map(tmp_path: Path) -> None:
    import mrcfile

    n, angpix = 24, 4.0
    vol = two_blob_volume(n)
    write_map(tmp_path / "ref.mrc", vol, angpix)
    star = relion_project(tmp_path, "ref.mrc", random_poses(300), angpix, n, "proj")
    out = reconstruct_with_relion(star, tmp_path / "rec.mrc", angpix, ctf=False, cwd=tmp_path)
    assert out is not None and out.is_file()
    curve = fsc(mrcfile.read(out), vol, angpix)
    assert curve.resolution(0.5) < 3.0 * angpix  # FSC > 0.5 out to ~12 A (the blobs carry little beyond)


def test_reconstruct_skips_cleanly_without_relion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert reconstruct_with_relion(tmp_path / "none.star", tmp_path / "x.mrc", 1.0) is None
