"""Simulation of RELION data with ground truth.

* :mod:`.structures` - procedural protein-like density (Gaussian residue blobs in domains).
* :mod:`.orientations` - RELION Euler angles, uniform / preferred-orientation sampling.
* :mod:`.ctf` - the CTF in RELION's convention.
* :mod:`.imaging` - projection, blob/CTF/envelope filtering, RELION-style normalisation.
* :mod:`.kinds` - clean signal of true particles and junk kinds.
* :mod:`.particles` - particle stacks with CTF and noise, written in RELION 3.1 format.
* :mod:`.relion_files` - deterministic STAR/MRC/pipeline/Select-job writers.
* :mod:`.truth` - the class labelling rule.
* :mod:`.relion_runs` - the bundled example (real Class2D run with relion_refine 3.1).
* :mod:`.class_average_jobs` - fast fake labelled Class2D jobs for the training corpus.
"""
