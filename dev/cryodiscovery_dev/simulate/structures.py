"""Procedural protein-like structures: clouds of Gaussian "residue" blobs grouped in domains.

A :class:`~.point_model.Structure` is a pseudo-atomic model in Angstrom (one point per ~110 Da residue, each
rendered as a Gaussian blob). Maps are rendered from it at any pixel size and box; the particle
simulator projects the same points, so projections are exact line integrals of the map.
The volume of each domain follows the protein density of ~0.81 Da/A^3.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from .point_model import Structure

DA_PER_RESIDUE = 110.0
DA_PER_A3 = 0.81
#: Relative scattering density of a detergent belt / micelle compared with protein.
DETERGENT_DENSITY = 0.35
STRUCTURE_KINDS: tuple[str, ...] = ("globular", "elongated", "symmetric", "membrane", "flexible")
SYMMETRIES: tuple[str, ...] = ("C2", "C3", "C4", "C5", "C6", "C7", "D2")
#: Kind of the real atomic models (``atomic_models/``). Not in STRUCTURE_KINDS, so random draws
#: over STRUCTURE_KINDS are unchanged; use ``"atomic"`` (a model chosen by the seed) or
#: ``"atomic:NAME"`` (that model) wherever a kind is accepted.
ATOMIC_KIND = "atomic"
ALL_STRUCTURE_KINDS: tuple[str, ...] = STRUCTURE_KINDS + (ATOMIC_KIND,)


def _ellipsoid_points(rng: np.random.Generator, n: int, semi_axes: np.ndarray) -> np.ndarray:
    """n points uniform in an axis-aligned ellipsoid."""
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d * rng.random((n, 1)) ** (1 / 3) * semi_axes


def _domain(rng: np.random.Generator, mass_da: float, centre, aspect=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Residue positions of one ellipsoidal domain of the given mass, centred at ``centre``."""
    n = max(int(round(mass_da / DA_PER_RESIDUE)), 8)
    aspect = np.asarray(aspect, float)
    volume = mass_da / DA_PER_A3
    semi = aspect * (3 * volume / (4 * np.pi * aspect.prod())) ** (1 / 3)
    pts = _ellipsoid_points(rng, n, semi)
    return Rotation.random(random_state=rng).apply(pts) + np.asarray(centre, float)


def _radius_of(mass_da: float) -> float:
    return float((3 * mass_da / DA_PER_A3 / (4 * np.pi)) ** (1 / 3))


def _assemble(parts: list[np.ndarray], weights: list[float] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate domains; return coords recentred on the weighted centre of mass, weights, domains, centre."""
    weights = weights or [1.0] * len(parts)
    coords = np.concatenate(parts)
    w = np.concatenate([np.full(len(p), wt) for p, wt in zip(parts, weights)])
    dom = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    com = (coords * w[:, None]).sum(0) / w.sum()
    return coords - com, w, dom, com


def _symmetry_ops(symmetry: str) -> list[Rotation]:
    """Rotations of point group Cn (about z) or D2."""
    if symmetry.upper() == "D2":
        return [Rotation.identity(), Rotation.from_euler("z", 180, degrees=True),
                Rotation.from_euler("x", 180, degrees=True), Rotation.from_euler("y", 180, degrees=True)]
    n = int(symmetry[1:])
    return [Rotation.from_euler("z", 360.0 * i / n, degrees=True) for i in range(n)]


def _build(kind: str, mass_da: float, rng: np.random.Generator, symmetry: str | None) -> tuple[list, list, dict | None, dict]:
    """Domains (point arrays), their weights, optional hinge, and kind-specific provenance."""
    extra: dict = {}
    hinge = None
    weights = None
    if kind == "globular":
        n_dom = int(rng.integers(2, 5))
        masses = mass_da * rng.dirichlet(np.full(n_dom, 4.0))
        r = _radius_of(mass_da)
        dirs = Rotation.random(n_dom, random_state=rng).apply([0, 0, 1])
        parts = [_domain(rng, m, d * 0.45 * r, rng.uniform(0.7, 1.3, 3)) for m, d in zip(masses, np.atleast_2d(dirs))]
    elif kind == "elongated":
        n_dom = int(rng.integers(3, 6))
        masses = mass_da * rng.dirichlet(np.full(n_dom, 6.0))
        radii = [_radius_of(m) for m in masses]
        z = np.cumsum([0.0] + [0.8 * (a + b) for a, b in zip(radii[:-1], radii[1:])])
        bend = rng.normal(0, 0.15, (n_dom, 2)) * np.mean(radii)
        parts = [_domain(rng, m, (bx, by, zz), (0.9, 0.9, 1.2)) for m, zz, (bx, by) in zip(masses, z, bend)]
    elif kind == "symmetric":
        symmetry = symmetry or str(rng.choice(SYMMETRIES))
        ops = _symmetry_ops(symmetry)
        sub_mass = mass_da / len(ops)
        r_sub = _radius_of(sub_mass)
        offset = np.array([r_sub * max(1.0, len(ops) / np.pi) * 0.9, 0.0, rng.uniform(-0.3, 0.3) * r_sub])
        if symmetry.upper() == "D2":
            offset = np.array([0.8, 0.6, 0.7]) * r_sub
        sub = [_domain(rng, sub_mass * f, offset + rng.normal(0, 0.3 * r_sub, 3), rng.uniform(0.7, 1.3, 3))
               for f in rng.dirichlet([5.0, 5.0])]
        sub_pts = np.concatenate(sub)
        parts = [op.apply(sub_pts) for op in ops]
        extra["symmetry"] = symmetry.upper()
    elif kind == "membrane":
        tm_mass = mass_da * rng.uniform(0.35, 0.6)
        r_tm = np.sqrt(tm_mass / DA_PER_A3 / (np.pi * 32.0))
        tm = _ellipsoid_points(rng, int(tm_mass / DA_PER_RESIDUE), np.array([r_tm, r_tm, 16.0]))
        soluble = _domain(rng, mass_da - tm_mass, (0, 0, 16.0 + 0.8 * _radius_of(mass_da - tm_mass)))
        # Detergent belt: a low-density torus around the transmembrane region (~30 A thick).
        n_det = max(int(len(tm) * 1.2), 50)
        phi = rng.uniform(0, 2 * np.pi, n_det)
        u = rng.normal(size=(n_det, 2)) * np.array([6.0, 9.0])
        ring = r_tm + 10.0 + u[:, 0]
        belt = np.stack([ring * np.cos(phi), ring * np.sin(phi), u[:, 1]], axis=1)
        parts, weights = [tm, soluble, belt], [1.0, 1.0, DETERGENT_DENSITY]
        extra["detergent_belt"] = {"outer_radius_A": float(r_tm + 22.0), "relative_density": DETERGENT_DENSITY}
    elif kind == "flexible":
        core_mass = mass_da * rng.uniform(0.55, 0.75)
        r_core, r_arm = _radius_of(core_mass), _radius_of(mass_da - core_mass)
        core = _domain(rng, core_mass, (0, 0, 0), (1.1, 1.0, 0.9))
        arm = _domain(rng, mass_da - core_mass, (0, 0, r_core + 0.9 * r_arm))
        parts = [core, arm]
        hinge = {"domain": 1, "point": [0.0, 0.0, r_core], "axis": [1.0, 0.0, 0.0],
                 "max_angle": float(rng.uniform(15, 40))}
    else:
        raise ValueError(f"unknown structure kind {kind!r}; choose from {STRUCTURE_KINDS}")
    return parts, weights, hinge, extra


def make_structure(kind: str, mass_kda: float, seed: int, symmetry: str | None = None) -> Structure:
    """Build a deterministic structure of ``kind`` (see STRUCTURE_KINDS) and mass 50-1000 kDa.

    ``kind`` may also be ``"atomic"`` (a committed atomic model chosen by ``seed``) or
    ``"atomic:NAME"`` (model NAME, see :func:`.atomic.atomic_model_names`); for those the mass
    and symmetry are the model's own and ``mass_kda``/``symmetry`` are ignored.
    """
    if kind == ATOMIC_KIND or kind.startswith(ATOMIC_KIND + ":"):
        return _make_atomic(kind, seed)
    if not 20 <= mass_kda <= 2000:
        raise ValueError(f"mass {mass_kda} kDa outside 20-2000")
    rng = np.random.default_rng(seed)
    parts, weights, hinge, extra = _build(kind, mass_kda * 1000.0, rng, symmetry)
    coords, w, dom, com = _assemble(parts, weights)
    if hinge:
        hinge["point"] = [float(v) for v in np.asarray(hinge["point"]) - com]
    provenance = {"kind": kind, "mass_kda": float(mass_kda), "seed": int(seed), "n_residues": int((w == 1).sum()),
                  "n_domains": len(parts), "da_per_A3": DA_PER_A3, **extra}
    s = Structure(coords.astype(np.float64), w, dom, hinge=hinge, provenance=provenance)
    s.provenance["max_diameter_A"] = round(2 * s.radius, 1)
    return s


def simulate_map(kind: str, mass_kda: float, pixel_size: float, box: int, seed: int,
                 symmetry: str | None = None) -> tuple[np.ndarray, dict]:
    """Density map (box^3, float32) of a procedural structure plus its provenance dict."""
    s = make_structure(kind, mass_kda, seed, symmetry)
    prov = dict(s.provenance, pixel_size=float(pixel_size), box=int(box))
    return s.render(pixel_size, box), prov


def _make_atomic(kind: str, seed: int) -> Structure:
    from . import atomic

    names = atomic.LEGACY_MODEL_NAMES
    name = kind.split(":", 1)[1] if ":" in kind else names[int(np.random.default_rng(seed).integers(len(names)))]
    s = atomic.make_atomic_structure(name)
    s.provenance["seed"] = int(seed)
    return s


def structure_catalog() -> list[dict]:
    """Every distinct structure the simulator can make, with provenance.

    One entry per committed atomic model (``kind`` ``"atomic:NAME"``: PDB id, source package,
    version, path, licence, chains, atoms, mass) and one per procedural family (each procedural
    kind, and for ``symmetric`` each point group; any seed and mass gives a new instance).
    """
    from . import atomic

    out = [{"kind": f"{ATOMIC_KIND}:{name}", **info, "family": "atomic"} for name, info in atomic.catalog().items()]
    for kind in STRUCTURE_KINDS:
        for sym in (SYMMETRIES if kind == "symmetric" else (None,)):
            out.append({"kind": kind, "family": "procedural", "shape": kind, "symmetry": sym or "C1",
                        "source": {"generator": "cryodiscovery_dev.simulate.structures.make_structure",
                                   "parameters": "mass_kda 20-2000, seed"},
                        "description": f"procedural {kind} protein-like density" + (f", {sym}" if sym else "")})
    return out
