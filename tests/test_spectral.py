"""Spectral measures: sharper classes score sharper, whatever the sampling or export."""

import numpy as np
from scipy import ndimage

from relion_cryodiscovery.data.spectral import high_frequency_power_fraction, spectral_measures


def _particle(box: int = 128, blur: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.indices((box, box)) - box // 2
    disc = np.hypot(x, y) < 0.3 * box
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (box, box)), 1.0) * disc
    image = ndimage.gaussian_filter(disc * 2.0 + 3 * texture, blur)
    return image + rng.normal(0, 0.01, image.shape)


def test_sharp_beats_blurred():
    sharp, blurred = spectral_measures(_particle(blur=0.7), None, None), spectral_measures(_particle(blur=4.0), None, None)
    assert sharp["spectral_resolution_kd"] > blurred["spectral_resolution_kd"]
    assert sharp["hf_power_fraction"] > blurred["hf_power_fraction"]
    assert high_frequency_power_fraction(_particle(blur=0.7)) == sharp["hf_power_fraction"]


def test_units_of_particle_diameter():
    """The same class at half the pixel size (twice the box) gives about the same k D."""
    small = _particle(box=96, blur=1.5)
    large = ndimage.zoom(small, 2.0, order=3)
    a = spectral_measures(small, 2.0, 0.6 * 96 * 2.0)
    b = spectral_measures(large, 1.0, 0.6 * 96 * 2.0)
    assert abs(a["spectral_resolution_kd"] - b["spectral_resolution_kd"]) < 0.15


def test_eight_bit_export_changes_little():
    image = _particle(blur=1.0)
    eight = np.round((image - image.min()) / np.ptp(image) * 255)
    a, b = spectral_measures(image, None, None), spectral_measures(eight, None, None)
    assert abs(a["spectral_resolution_kd"] - b["spectral_resolution_kd"]) < 0.1


def test_edge_is_anisotropic():
    box = 128
    y, x = np.indices((box, box))
    edge = ndimage.gaussian_filter((x > 70).astype(float), 1.0)
    assert spectral_measures(edge, None, None)["edge_anisotropy"] > spectral_measures(_particle(), None, None)["edge_anisotropy"] + 0.5
