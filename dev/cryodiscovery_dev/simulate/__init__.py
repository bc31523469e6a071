"""Simulation of RELION data with ground truth: the training corpus, the bundled example and the tests' jobs.

Part of the developer package (``dev/``), not of the wheel: nothing ``relion_cryodiscovery`` or
``relion_external`` runs imports it (``tests/test_layering.py``); scripts, benchmarks and tests do. The
atomic models (``atomic_models/``) are this package's data.

Structures, the one point type and its splatting, optics:

* :mod:`.point_model` - :class:`~.point_model.Structure` (weighted points) and :func:`~.point_model.splat`.
* :mod:`.structures`, :mod:`.atomic` - procedural protein-like density; the committed atomic models.
* :mod:`.orientations`, :mod:`.ctf` - RELION Euler angles and view sampling; the CTF in RELION's convention.
* :mod:`.truth` - the labelling rules, side by side (particle purity; what a lab-like class shows; relative to
  the job), with the reason two corpora need two rules.
* :mod:`.relion_files` - deterministic STAR/MRC/pipeline/Select-job writers.

Three producers, one per kind of corpus, and the probes:

* **Particles** (:mod:`.imaging`, :mod:`.kinds`, :mod:`.particles`): particle stacks (true particles and junk
  picks, CTF, noise) in RELION 3.1 format, classified by Debian's ``relion_refine``
  (:mod:`cryodiscovery_dev.relion_class2d`, :mod:`cryodiscovery_dev.relion_class3d`): the bundled example
  (``scripts/make_example.py``), the committed ``corpus/relion`` and ``corpus/relion3d`` projects (the
  ``relion_refine`` hold-out), the junk-heavy Schedule project; labelled by purity (:func:`.truth.class_table`).
* **Fast RELION projects** (:mod:`.class_average_jobs`): whole small Class2D projects without ``relion_refine``
  (``run_it025`` data/model/optimiser STAR files with a row per particle, the class stack, a Select job holding
  the truth, the pipeline), labelled by purity; about 2 s a job. The corpus of models 0.1.0-0.2.0
  (``scripts/make_corpus.py``, ``scripts/research/train_models_0_1_to_0_2.py``). It stays because the tests and
  benchmarks need job directories the product reads: the ``project`` and ``model`` fixtures of
  ``tests/conftest.py`` (16 test files take them: select, score, training, outputs, faults), and
  ``benchmarks/make_big_job.py`` (the 1M-particle job), ``reliability_scale.py``, ``run_all.sh``. The lab-like
  producer makes class images in memory only (no particles, STAR files or Select jobs), so it cannot stand in
  for it without a RELION-project layer of its own, and every fixture would change.
* **Lab-like class averages** (:mod:`.lab_classes`, with :mod:`.lab_models`, :mod:`.lab_averaging`,
  :mod:`.lab_junk`): a lab's Class2D job formed in closed form, as a :class:`~relion_cryodiscovery.relion.classes.ClassSet`
  with its truth; labelled by what the class shows (:func:`.truth.label_is_good`,
  :func:`.truth.job_relative_labels`). The shipped model's corpus (``scripts/make_lab_corpus.py``,
  :mod:`cryodiscovery_dev.lab_corpus`), the evaluation's early-round and junk-only probes
  (:mod:`cryodiscovery_dev.probes`), the reason model's stripe jobs.
* **Not class averages** (:mod:`.not_class_averages`): patterns, noise, photographs and raw micrograph patches as
  jobs, the probes of the out-of-domain check (``tests/test_domain_probes.py``, ``scripts/domain_check_demo.py``,
  ``scripts/fit_domain_reference.py``).
"""
