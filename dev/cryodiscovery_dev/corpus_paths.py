"""Where the corpus lives in a checkout: the one module that knows the layout.

* ``examples/class2d_small``: the bundled example (a real Class2D run, always held out);
* ``corpus/relion/relion*``: real ``relion_refine`` 3.1.3 Class2D projects (``scripts/make_relion_corpus.py``);
* ``corpus/relion3d/relion3d*``: real Class3D projects (``scripts/make_relion_class3d_corpus.py``);
* ``corpus_cache/``: regenerable, not committed: ``sim<N>`` (the fast producer's N jobs),
  ``lab`` (the lab-like corpus), ``pretrained_sim``.
"""

from __future__ import annotations

from pathlib import Path

#: The checkout this package is installed from (editable: ``pip install -e ./dev``).
REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PROJECT = REPO / "examples" / "class2d_small"
RELION_CLASS2D = REPO / "corpus" / "relion"
RELION_CLASS3D = REPO / "corpus" / "relion3d"
CORPUS_CACHE = REPO / "corpus_cache"
LAB_CORPUS = CORPUS_CACHE / "lab"
PRETRAINED_SIM = CORPUS_CACHE / "pretrained_sim"
#: Glob patterns of the real projects under each corpus directory.
RELION_CLASS2D_PATTERN = "relion*"
RELION_CLASS3D_PATTERN = "relion3d*"


def sim_corpus(n_jobs: int) -> Path:
    """The fast producer's corpus of ``n_jobs`` simulated Class2D jobs."""
    return CORPUS_CACHE / f"sim{n_jobs}"


def relion_class2d_projects(root: Path = RELION_CLASS2D) -> list[Path]:
    """The real Class2D projects of the corpus, in name order."""
    return sorted(root.glob(RELION_CLASS2D_PATTERN))


def relion_class3d_projects(root: Path = RELION_CLASS3D) -> list[Path]:
    """The real Class3D projects of the corpus, in name order."""
    return sorted(root.glob(RELION_CLASS3D_PATTERN))


def real_projects(repo: Path = REPO) -> list[Path]:
    """Every real RELION project with ground truth in the checkout ``repo``: the example, then
    the Class2D and Class3D projects."""
    candidates = [repo / EXAMPLE_PROJECT.relative_to(REPO),
                  *relion_class2d_projects(repo / RELION_CLASS2D.relative_to(REPO)),
                  *relion_class3d_projects(repo / RELION_CLASS3D.relative_to(REPO))]
    return [p for p in candidates if (p / "ground_truth" / "simulation.json").is_file()]



#: The real class averages beside the checkout: ``../shared/real`` and ``../real_extra`` (docs/real_sets.md).
SHARED_REAL = REPO.parent / "shared" / "real"
EXTRA_REAL = REPO.parent / "real_extra"
DEFAULT_MODEL = REPO / "models" / "default"


def add_model_and_data_args(parser) -> None:
    """The options every model-judging script takes: ``--model``, ``--lab`` (the lab-like corpus), ``--shared``
    and ``--extra`` (the real sets)."""
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--lab", type=Path, default=LAB_CORPUS)
    parser.add_argument("--shared", type=Path, default=SHARED_REAL)
    parser.add_argument("--extra", type=Path, default=EXTRA_REAL)
