"""The network views' resampling is scikit-image's resize, bit for bit, without importing scikit-image;
the per-size geometry the preprocessing caches never changes a result."""

from __future__ import annotations

import numpy as np
import pytest

from relion_cryodiscovery.data import preprocess, spectral
from relion_cryodiscovery.data.preprocess import normalise_view, resample
from relion_cryodiscovery.data.spectral import spectral_measures


@pytest.mark.parametrize("n", [8, 31, 63, 64, 65, 100, 117, 118, 128, 199, 256, 301])
def test_resample_is_skimage_resize_bit_for_bit(n: int) -> None:
    """The models were trained on ``skimage.transform.resize(order=1, anti_aliasing=n > size,
    preserve_range=True)``: up- and down-sampling, odd and even sides, offsets and scales."""
    from skimage.transform import resize

    rng = np.random.default_rng(n)
    for window in (rng.normal(3.0, 40.0, (n, n)), np.cumsum(rng.normal(size=(n, n)), axis=1) * 1e-3):
        expected = resize(window, (64, 64), order=1, anti_aliasing=n > 64, preserve_range=True)
        got = resample(window, 64)
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()


def test_the_cached_geometry_is_read_only_and_changes_no_result() -> None:
    rng = np.random.default_rng(1)
    images = {n: rng.normal(size=(n, n)) + np.hypot(*np.indices((n, n)) - n // 2) for n in (96, 118, 150)}
    first = {n: (spectral_measures(image, 1.5, 0.5 * n * 1.5), normalise_view(image, 1.5, 0.5 * n * 1.5))
             for n, image in images.items()}
    for n in (150, 96, 118, 96):  # again, sizes interleaved: the same values
        measures, view = spectral_measures(images[n], 1.5, 0.5 * n * 1.5), normalise_view(images[n], 1.5, 0.5 * n * 1.5)
        assert measures == first[n][0] and view.tobytes() == first[n][1].tobytes()
    for array in (*spectral._grid(118), spectral._disc(118, 30.0), preprocess._radius_grid(64),
                  preprocess._soft_edge(64)):
        with pytest.raises(ValueError):
            array[...] = 0
