"""Real atomic models: committed files, atom -> density with electron scattering factors, integration."""

import re

import numpy as np
import pytest
from scipy import fft

from cryodiscovery_dev.simulate import atomic
from cryodiscovery_dev.simulate.imaging import blob_transfer, project
from cryodiscovery_dev.simulate.particles import ParticleConfig, simulate_particles
from cryodiscovery_dev.simulate.structures import (
    ALL_STRUCTURE_KINDS, STRUCTURE_KINDS, make_structure, structure_catalog,
)

SMALL = "interleukin2"  # ~15 kDa, ~60 A across: fits small test boxes


def _centroid_a(m: np.ndarray, pixel_size: float) -> np.ndarray:
    """Density-weighted centroid (x, y, z) in A relative to voxel box // 2."""
    idx = np.indices(m.shape).reshape(3, -1)[::-1] - m.shape[0] // 2
    w = m.ravel().astype(float)
    return (idx * w).sum(1) / w.sum() * pixel_size


#: Residue formulas in a chain (neutral side chains, His as HID; nucleotides with the phosphodiester as
#: the monoanion and no terminal hydroxyl hydrogens), independent of the hydrogen templates in atomic.py.
RESIDUE_FORMULA = {
    "ALA": "C3H5NO", "ARG": "C6H12N4O", "ASN": "C4H6N2O2", "ASP": "C4H5NO3", "CYS": "C3H5NOS", "GLN": "C5H8N2O2",
    "GLU": "C5H7NO3", "GLY": "C2H3NO", "HIS": "C6H7N3O", "ILE": "C6H11NO", "LEU": "C6H11NO", "LYS": "C6H12N2O",
    "MET": "C5H9NOS", "PHE": "C9H9NO", "PRO": "C5H7NO", "SER": "C3H5NO2", "THR": "C4H7NO2", "TRP": "C11H10N2O",
    "TYR": "C9H9NO2", "VAL": "C5H9NO",
    "A": "C10H11N5O6P", "C": "C9H11N3O7P", "G": "C10H11N5O7P", "U": "C9H10N2O8P",
    "DA": "C10H11N5O5P", "DC": "C9H11N3O6P", "DG": "C10H11N5O6P", "DT": "C10H12N2O7P",
}
FORMULA_H = {r: int(re.search(r"H(\d+)", f).group(1)) for r, f in RESIDUE_FORMULA.items()}
FORMULA_MASS = {r: sum(atomic.ATOMIC_MASS[e] * int(k or 1) for e, k in re.findall(r"([A-Z])(\d*)", f))
                for r, f in RESIDUE_FORMULA.items()}


@pytest.mark.parametrize("name", atomic.atomic_model_names())
def test_every_committed_model_loads_with_sane_mass_and_size(name):
    m = atomic.load_model(name)
    info = atomic.catalog()[name]
    n = len(m.xyz)
    assert m.xyz.shape == (n, 3) and len(m.element) == len(m.n_hydrogen) == len(m.chain) == n == info["n_atoms"]
    assert set(np.unique(m.element)) <= set(range(len(atomic.ELEMENTS))) and 0 not in m.element  # H only implicit
    assert m.mass_da / 1000 == pytest.approx(info["mass_kda"], abs=0.06)
    assert info["shape"] in atomic.SHAPES
    # Protein: ~14.2 Da and ~1 H per heavy atom; RNA/DNA: ~15.1 Da and ~0.5 H per heavy atom.
    f = info["nucleic_fraction"]
    assert 13.5 + 1.2 * f < m.mass_da / n < 15.0 + 0.6 * f
    assert 0.72 - 0.3 * f < m.n_hydrogen.sum() / n < 1.25 - 0.6 * f
    # Mass and hydrogens against the residue composition (missing side chains and chain ends: a few %).
    counts = info["residue_counts"]
    assert m.mass_da == pytest.approx(sum(FORMULA_MASS[r] * k for r, k in counts.items()), rel=0.045)
    assert m.n_hydrogen.sum() == pytest.approx(sum(FORMULA_H[r] * k for r, k in counts.items()), rel=0.07)
    n_nuc = sum(k for r, k in counts.items() if r in atomic.NUCLEOTIDES)
    n_p = int((m.element == atomic.ELEMENTS.index("P")).sum())
    assert n_nuc - (m.chain.max() + 1) <= n_p <= n_nuc  # one phosphorus per nucleotide (5' ends may lack it)
    assert (n_nuc > 0) == (f > 0)
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
    s = atomic.make_atomic_structure(name)
    assert s.provenance["model"] == name and len(s.coords) == n and np.isfinite(s.weights).all()
    assert s.weights.sum() == pytest.approx(atomic.scattering_weights(m.element, m.n_hydrogen).sum()
                                            / atomic.F0_PER_RESIDUE_EQUIVALENT)


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


def test_nucleotide_hydrogen_templates():
    """In-chain nucleotides: riding hydrogens match the formulas; old atom names are understood."""
    backbone = ["P", "OP1", "OP2", "O5'", "C5'", "C4'", "O4'", "C3'", "O3'", "C2'", "C1'"]
    bases = {"A": "N9 C8 N7 C5 C6 N6 N1 C2 N3 C4", "G": "N9 C8 N7 C5 C6 O6 N1 C2 N2 N3 C4",
             "C": "N1 C2 O2 N3 C4 N4 C5 C6", "U": "N1 C2 O2 N3 C4 O4 C5 C6", "T": "N1 C2 O2 N3 C4 O4 C5 C7 C6"}
    for res in atomic.NUCLEOTIDES:
        names = backbone + (["O2'"] if res in atomic.RNA_RESIDUES else []) + bases[res[-1]].split()
        assert sum(atomic.hydrogen_count(res, a, a[0]) for a in names) == FORMULA_H[res], res
    assert atomic.hydrogen_count("DA", "C2'", "C") == 2 and atomic.hydrogen_count("A", "C2'", "C") == 1
    assert atomic.hydrogen_count("DT", "C5M", "C") == 3 and atomic.hydrogen_count("G", "C1*", "C") == 1
    assert atomic.hydrogen_count("U", "O1P", "O") == 0 and atomic.hydrogen_count("A", "N6", "N") == 2
    assert atomic.hydrogen_count("ALA", "CB", "C") == 3  # amino acids unchanged


def test_catalog_has_50_models_in_every_category():
    cat = atomic.catalog()
    assert len(cat) >= 50
    ids = {c["pdb_id"] for c in cat.values()}
    assert len(ids) >= 50
    shapes = {c["shape"] for c in cat.values()}
    assert {"membrane", "nucleic_acid_complex", "small", "symmetric", "filament"} <= shapes <= set(atomic.SHAPES)
    # Nucleotides are kept: nucleic-acid complexes carry RNA/DNA, including a ribosome-sized one.
    nucleic = {n: c for n, c in cat.items() if c["shape"] == "nucleic_acid_complex"}
    assert all(c["nucleic_fraction"] > 0.03 for c in nucleic.values())
    assert max(c["mass_kda"] * c["nucleic_fraction"] for c in nucleic.values()) > 1000
    assert any(0.2 < c["nucleic_fraction"] < 0.8 and c["mass_kda"] > 1000 for c in nucleic.values())
    assert all(c["nucleic_fraction"] == 0 for c in cat.values() if c["shape"] != "nucleic_acid_complex")
    assert all(c["mass_kda"] < 20 for c in cat.values() if c["shape"] == "small")
    # Filament segments are long and thin.
    for n, c in cat.items():
        if c["shape"] == "filament":
            ax = np.sqrt(np.linalg.eigvalsh(np.cov(atomic.load_model(n).xyz.T)))
            assert ax[2] > 2.5 * ax[1], n
    assert sum(c["mass_kda"] > 500 for c in cat.values()) >= 4


def test_rna_model_density_carries_phosphorus():
    """Every nucleotide's phosphorus scatters with f_P(0); RNA, poorer in hydrogen (f_H(0)/m_H is the largest
    of all elements), has ~10 % less forward electron scattering per Da than protein; the map integrates."""
    rna, prot = atomic.make_atomic_structure("trna_phe_1ehz"), atomic.make_atomic_structure("hemoglobin_2hhb")
    p = rna.element == atomic.ELEMENTS.index("P")
    assert p.sum() == 76 and np.allclose(rna.weights[p] * atomic.F0_PER_RESIDUE_EQUIVALENT,
                                         sum(atomic.PENG_ELECTRON["P"][0]))
    per_da = [s.weights.sum() / (s.provenance["mass_kda"] * 1000) for s in (rna, prot)]
    assert 0.8 < per_da[0] / per_da[1] < 0.95
    m = rna.render(3.0, 48)
    assert m.sum() == pytest.approx(rna.weights.sum(), rel=1e-3)
