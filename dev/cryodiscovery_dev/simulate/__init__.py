"""Simulation of RELION data with ground truth: the training corpus, the bundled example and the tests' jobs.

Part of the developer package (``dev/``), not of the wheel: nothing ``relion_cryodiscovery`` or
``relion_external`` runs imports it (``tests/test_layering.py``); scripts, benchmarks and tests do. The
atomic models (``atomic_models/``) are this package's data.

* :mod:`.structures` - procedural protein-like density (Gaussian residue blobs in domains).
* :mod:`.orientations` - RELION Euler angles, uniform / preferred-orientation sampling.
* :mod:`.ctf` - the CTF in RELION's convention.
* :mod:`.imaging` - projection, blob/CTF/envelope filtering, RELION-style normalisation.
* :mod:`.kinds` - clean signal of true particles and junk kinds.
* :mod:`.particles` - particle stacks with CTF and noise, written in RELION 3.1 format.
* :mod:`.relion_files` - deterministic STAR/MRC/pipeline/Select-job writers.
* :mod:`.truth` - the labelling rules (particle purity; what a lab-like class shows; relative to the job).
* :mod:`.class_average_jobs` - fast fake labelled Class2D jobs for the training corpus.
* :mod:`.atomic`, :mod:`.lab_classes` - real atomic models; lab-like class averages formed analytically.

The projects run through Debian's ``relion_refine`` (the bundled example, the real Class2D/Class3D
corpus) are built beside it, by :mod:`cryodiscovery_dev.relion_class2d` and :mod:`cryodiscovery_dev.relion_class3d`.
"""
