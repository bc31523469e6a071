"""Simulation of RELION data with ground truth: the training corpus, the bundled example and the tests' jobs.

Part of the developer package (``dev/``), not of the wheel: nothing ``relion_cryodiscovery`` or
``relion_external`` runs imports it (``tests/test_layering.py``); scripts, benchmarks and tests do. The
atomic models (``atomic_models/``) are this package's data.

Structures, the one point type and its splatting, optics:

* :mod:`.point_model` - :class:`~.point_model.Structure` (weighted points) and :func:`~.point_model.splat`.
* :mod:`.structures`, :mod:`.atomic` - procedural protein-like density; the committed atomic models.
* :mod:`.orientations`, :mod:`.ctf` - RELION Euler angles and view sampling; the CTF in RELION's convention.
* :mod:`.truth` - the labelling rules, side by side (particle purity for ``relion_refine`` projects; what a
  lab-like class shows; relative to the job), with the reason the two kinds of corpus need two rules.
* :mod:`.relion_files` - deterministic STAR/MRC/pipeline/Select-job writers.

One simulator of class averages, the particle simulator beside it, and the probes:

* **Particles** (:mod:`.imaging`, :mod:`.kinds`, :mod:`.particles`): particle stacks (true particles and junk
  picks, CTF, noise) in RELION 3.1 format, classified by Debian's ``relion_refine``
  (:mod:`cryodiscovery_dev.relion_class2d`, :mod:`cryodiscovery_dev.relion_class3d`): the bundled example
  (``scripts/make_example.py``), the committed ``corpus/relion`` and ``corpus/relion3d`` projects (the
  ``relion_refine`` hold-out), the junk-heavy Schedule project; labelled by purity (:func:`.truth.class_table`).
  RELION forms these class averages; nothing here does.
* **Lab-like class averages** (:mod:`.lab_classes`, with :mod:`.lab_models`, :mod:`.lab_averaging`,
  :mod:`.lab_junk`): the one simulator of class averages. A lab's Class2D job formed in closed form, as a
  :class:`~relion_cryodiscovery.relion.classes.ClassSet` with its truth; labelled by what the class shows
  (:func:`.truth.label_is_good`, :func:`.truth.job_relative_labels`). The shipped model's corpus
  (``scripts/make_lab_corpus.py``, :mod:`cryodiscovery_dev.lab_corpus`), the evaluation's early-round and
  junk-only probes (:mod:`cryodiscovery_dev.probes`), the reason model's stripe jobs.
* **Small RELION projects** (:mod:`.class_average_jobs`): a thin layer over the lab-like simulator for what needs
  job directories the product reads: a small binned lab job (:func:`~.class_average_jobs.project_job_spec`)
  simulated by :func:`.lab_classes.simulate_job`, written as a Class2D project (``run_it025``
  data/model/optimiser STAR files with a row per particle, the class stack, a Select job holding the labels,
  the pipeline); about 1 s a job. The ``session_corpus``/``project``/``model`` fixtures of
  ``tests/conftest.py``, ``benchmarks/make_big_job.py``, ``reliability_scale.py``, ``run_all.sh``,
  ``scripts/make_corpus.py`` and the 0.1.0-0.2.0 research scripts. (Up to commit 8db6267 this module rendered
  its own averages from particle metadata, labelled by purity: the corpus of models 0.1.0-0.2.0,
  docs/producers.md.)
* **Not class averages** (:mod:`.not_class_averages`): patterns, noise, photographs and raw micrograph patches as
  jobs, the probes of the out-of-domain check (``tests/test_domain_probes.py``, ``scripts/domain_check_demo.py``,
  ``scripts/fit_domain_reference.py``).
"""
