"""Real atomic models: committed files, atom -> density with electron scattering factors, integration."""

import numpy as np
import pytest
from scipy import fft

from relion_cryodiscovery.simulate import atomic
from relion_cryodiscovery.simulate.imaging import blob_transfer, project
from relion_cryodiscovery.simulate.particles import ParticleConfig, simulate_particles
from relion_cryodiscovery.simulate.structures import (
    ALL_STRUCTURE_KINDS, STRUCTURE_KINDS, make_structure, structure_catalog,
)

SMALL = "interleukin2"  # ~15 kDa, ~60 A across: fits small test boxes


def _centroid_a(m: np.ndarray, pixel_size: float) -> np.ndarray:
    """Density-weighted centroid (x, y, z) in A relative to voxel box // 2."""
    idx = np.indices(m.shape).reshape(3, -1)[::-1] - m.shape[0] // 2
    w = m.ravel().astype(float)
    return (idx * w).sum(1) / w.sum() * pixel_size


@pytest.mark.parametrize("name", atomic.atomic_model_names())
def test_every_committed_model_loads_with_sane_mass_and_size(name):
    m = atomic.load_model(name)
    info = atomic.catalog()[name]
    n = len(m.xyz)
    assert m.xyz.shape == (n, 3) and len(m.element) == len(m.n_hydrogen) == len(m.chain) == n == info["n_atoms"]
    assert set(np.unique(m.element)) <= set(range(len(atomic.ELEMENTS))) and 0 not in m.element  # H only implicit
    assert m.mass_da / 1000 == pytest.approx(info["mass_kda"], abs=0.06)
    assert 13.5 < m.mass_da / n < 15.0  # protein: ~14.2 Da per heavy atom including its hydrogens
    assert 0.85 < m.n_hydrogen.sum() / n < 1.25  # ~1 H per heavy atom in proteins
    mass = atomic.scattering_weights(np.zeros(0, int), np.zeros(0, int))  # empty is fine
    assert mass.shape == (0,)
    w = np.array([atomic.ATOMIC_MASS[e] for e in atomic.ELEMENTS])[m.element] + m.n_hydrogen * 1.008
    assert np.linalg.norm((m.xyz * w[:, None]).sum(0) / w.sum()) < 0.05  # centred on the centre of mass
    # The longest extent lies between a compact sphere of protein density and a 6x elongated rod.
    d_sphere = 2 * (3 * m.mass_da / 0.81 / (4 * np.pi)) ** (1 / 3)
    d_max = 2 * np.sqrt((m.xyz**2).sum(1)).max()
    assert 0.9 * d_sphere < d_max < 6 * d_sphere
    src = info["source"]
    assert src["package"] and src["version"] and src["path"] and src["license"]


def test_scattering_factors_match_peng_at_zero_and_decay():
    # f(0) = sum of the a_i (Peng et al. 1996, electrons): C 2.5088 A, O 1.9834 A, H 0.5288 A.
    assert atomic.form_factor("C", 0.0) == pytest.approx(2.5088)
    assert atomic.form_factor("O", 0.0) == pytest.approx(1.9834)
    assert atomic.form_factor("H", 0.0) == pytest.approx(0.5288)
    k = np.linspace(0, 1, 11)
    for el in atomic.ELEMENTS:
        f = atomic.form_factor(el, k, bfactor=20)
        assert np.all(np.diff(f) < 0)
    assert atomic.form_factor("C", 0.5, 50.0) == pytest.approx(atomic.form_factor("C", 0.5) * np.exp(-50.0 * 0.25**2))


def test_density_matches_direct_sum_of_gaussians():
    """With a large B-factor the map is the real-space 5-Gaussian sum sampled at the voxels."""
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-4, 4, (5, 3))
    el = np.array([1, 2, 3, 4, 1])
    nh = np.array([1, 0, 0, 0, 3])
    px, box, bf = 1.0, 24, 100.0
    m = atomic.density_map(xyz, el, nh, px, box, bfactor=bf)
    r = (np.indices((box,) * 3).reshape(3, -1)[::-1].T - box // 2) * px
    direct = np.zeros(len(r))
    for p, e, h in zip(xyz, el, nh):
        d2 = ((r - p) ** 2).sum(1)
        for sym, count in ((atomic.ELEMENTS[e], 1), ("H", h)):
            for a, b in zip(*atomic.PENG_ELECTRON[sym]):
                bb = b + bf
                direct += count * a * (4 * np.pi / bb) ** 1.5 * np.exp(-4 * np.pi**2 * d2 / bb) * px**3
    direct = direct.reshape((box,) * 3)
    assert np.abs(m - direct).max() < 0.01 * direct.max()


def test_map_integrates_to_scattering_and_is_centred_and_deterministic():
    s = make_structure(f"atomic:{SMALL}", 15, seed=0)
    m = s.render(3.0, 40)
    assert m.shape == (40, 40, 40) and m.dtype == np.float32
    assert m.sum() == pytest.approx(s.weights.sum(), rel=1e-3)
    # Same signal per mass as a procedural structure (one weight-1 point per 110 Da).
    assert s.weights.sum() == pytest.approx(s.provenance["mass_kda"] * 1000 / 110, rel=0.02)
    assert np.linalg.norm(_centroid_a(m, 3.0)) < 0.5
    np.testing.assert_array_equal(m, make_structure(f"atomic:{SMALL}", 15, seed=5).render(3.0, 40))
    # Integrated density is proportional to the scattering, not to the atom count alone.
    other = make_structure("atomic:hiv_protease", 20, seed=0)
    m2 = other.render(3.0, 40)
    assert m2.sum() / m.sum() == pytest.approx(other.weights.sum() / s.weights.sum(), rel=2e-3)


def test_two_pixel_sizes_agree():
    s = make_structure(f"atomic:{SMALL}", 15, seed=0)
    fine, coarse = s.render(2.0, 64), s.render(4.0, 32)
    # Fourier-crop the 2 A map to the 4 A grid (same 128 A box).
    f = fft.fftn(fine)
    keep = np.round(fft.fftfreq(32) * 32).astype(int) % 64
    cropped = fft.ifftn(f[np.ix_(keep, keep, keep)]).real
    assert cropped.sum() == pytest.approx(coarse.sum(), rel=1e-4)
    assert np.corrcoef(cropped.ravel(), coarse.ravel())[0, 1] > 0.99
    assert np.linalg.norm(_centroid_a(fine, 2.0) - _centroid_a(coarse, 4.0)) < 0.3


def test_point_projection_matches_map_line_integral():
    """The particle simulator projects atoms and blurs with one fitted Gaussian: close to the map's projection."""
    s = make_structure(f"atomic:{SMALL}", 15, seed=0)
    px, box = 2.5, 40
    proj_map = s.render(px, box).sum(axis=0)
    pts = project(s, np.zeros(3), np.zeros(2), box, px)
    proj_pts = fft.irfft2(fft.rfft2(pts) * blob_transfer(box, px, s.blob_sigma), s=(box, box))
    assert proj_pts.sum() == pytest.approx(proj_map.sum(), rel=1e-3)
    assert np.corrcoef(proj_pts.ravel(), proj_map.ravel())[0, 1] > 0.97


def test_seed_choice_and_procedural_kinds_untouched():
    assert STRUCTURE_KINDS == ("globular", "elongated", "symmetric", "membrane", "flexible")
    assert ALL_STRUCTURE_KINDS[-1] == "atomic"
    a, b = make_structure("atomic", 100, 7), make_structure("atomic", 100, 7)
    assert a.provenance == b.provenance and a.provenance["model"] in atomic.atomic_model_names()
    assert len({make_structure("atomic", 100, s).provenance["model"] for s in range(40)}) > 5
    assert a.provenance["source"]["package"]
    with pytest.raises(ValueError):
        make_structure("atomic:no_such_model", 100, 0)
    g = make_structure("globular", 100, 1)
    assert g.provenance["kind"] == "globular" and type(g).__name__ == "Structure"


def test_catalog_lists_at_least_30_distinct_structures_with_provenance():
    cat = structure_catalog()
    keys = [(c["kind"], c.get("symmetry")) for c in cat]
    assert len(set(keys)) == len(keys) >= 30
    atomic_entries = [c for c in cat if c["family"] == "atomic"]
    assert len(atomic_entries) >= 12
    assert all(c["pdb_id"] and c["source"]["path"] for c in atomic_entries)


def test_particles_simulate_from_an_atomic_structure():
    s = make_structure(f"atomic:{SMALL}", 15, seed=0)
    cfg = ParticleConfig(n_particles=12, box=40, pixel_size=2.5, junk_fractions={"empty": 0.2})
    pset = simulate_particles([s], cfg, seed=1)
    assert pset.images.shape == (12, 40, 40) and np.isfinite(pset.images).all()
    assert pset.truth["is_good"].sum() == 10
