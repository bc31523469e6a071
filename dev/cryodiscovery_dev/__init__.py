"""CryoDiscovery's developer tools: installed for development only, never in relion-cryodiscovery's wheel.

``scripts/setup.sh`` installs it editable beside the package (``pip install -e ".[train,test,ccpem]" -e ./dev``),
so ``scripts/``, ``benchmarks/`` and ``tests/`` import it as any package. Everything here needs a checkout
(:mod:`.corpus_paths` knows its layout):

* the corpus of real ``relion_refine`` runs: :mod:`.relion_project`, :mod:`.relion_class2d`, :mod:`.relion_class3d`;
* the structure hold-out split and its metrics: :mod:`.holdout`;
* the lab-like corpus's structure split, jobs and training arrays: :mod:`.lab_corpus`;
* the bundled example's montage for the docs: :mod:`.example`;
* the tiny synthetic classes of the training tests: :mod:`.synthetic`;
* the reviewer's output comparison (``scripts/compare_outputs.py``): :mod:`.compare_outputs`;
* the External job held in one stage for RELION's abort (test and benchmark): :mod:`.abort_stages`;
* a command's wall and CPU time and peak RSS, and a job's step times (the benchmarks): :mod:`.process_timing`.
"""
