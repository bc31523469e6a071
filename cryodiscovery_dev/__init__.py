"""CryoDiscovery's developer tools: not part of the installed package (not in the wheel).

Everything here needs a checkout of the repository: the corpus of real ``relion_refine`` runs and
its paths (:mod:`.corpus_paths`, :mod:`.relion_project`, :mod:`.relion_class2d`,
:mod:`.relion_class3d`) and the structure hold-out split with its metrics (:mod:`.holdout`). The
scripts in ``scripts/`` put the repository root on ``sys.path``; pytest does so through
``pythonpath`` in ``pyproject.toml``.
"""
