"""Shared fixtures: the bundled example project, the shipped model, RELION availability."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "class2d_small"
SHIPPED_MODEL = REPO / "models" / "default"

requires_relion = pytest.mark.skipif(
    shutil.which("relion_pipeliner") is None or shutil.which("relion_refine") is None,
    reason="Debian's RELION (relion_pipeliner, relion_refine) is not installed; scripts/setup.sh installs it",
)


def new_project_with_particles(tmp_path: Path) -> Path:
    """A new RELION project holding only the bundled example's particles (``Simulated/``) and the
    one-line pipeline file a new project starts with (RELION 5's command-line pipeliner needs it)."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(EXAMPLE / "Simulated", project / "Simulated")
    (project / "default_pipeline.star").write_text("data_pipeline_general\n\n_rlnPipeLineJobCounter 1\n")
    return project


def select_command_dir() -> Path:
    """The directory holding the installed ``cryodiscovery_select`` command (skips the test without it)."""
    exe_dir = Path(sys.executable).parent
    if not (exe_dir / "cryodiscovery_select").exists():
        pytest.skip("the cryodiscovery_select command is not installed in this environment")
    return exe_dir


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A private copy of the bundled RELION project (inputs are never modified in place)."""
    if not EXAMPLE.is_dir():
        pytest.skip("bundled example not generated")
    project = tmp_path / "project with space"
    shutil.copytree(EXAMPLE, project, symlinks=True)
    return project


@pytest.fixture
def example_data_star(example_project: Path) -> str:
    """Project-relative path of the example's last-iteration data.star."""
    return str(sorted((example_project / "Class2D" / "job001").glob("run_it*_data.star"))[-1].relative_to(example_project))


@pytest.fixture(scope="session")
def session_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small simulated Class2D projects (``sim0000``..``sim0002``; lab-like class averages, each job with
    good and junk classes, its Select job holding the labels), made once per session."""
    from cryodiscovery_dev.simulate.class_average_jobs import make_corpus

    out = tmp_path_factory.mktemp("session_corpus")
    make_corpus(out, n_jobs=3, seed=7)
    return out


@pytest.fixture(scope="session")
def session_tiny_model(session_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real (1-epoch) ensemble trained through the ``train`` command, shared by the whole session."""
    from relion_cryodiscovery.cli.main import main as cli

    model = tmp_path_factory.mktemp("session_model")
    projects = [arg for p in sorted(session_corpus.glob("sim*")) for arg in ("--project", str(p))]
    code = cli(["train", *projects, "--o", str(model), "--epochs", "1", "--val-fraction", "0.34",
                "--test-fraction", "0", "--quiet", "--model-version", "tiny-test"])
    assert code == 0
    return model


@pytest.fixture
def project(session_corpus: Path, tmp_path: Path) -> Path:
    """A private copy of a simulated RELION project with one Class2D job (``sim0000``, 20-60 classes)."""
    target = tmp_path / "proj"
    shutil.copytree(session_corpus / "sim0000", target)
    return target


@pytest.fixture
def model(session_tiny_model: Path, tmp_path: Path) -> Path:
    """A private copy of the session's tiny model (cases may break it)."""
    target = tmp_path / "model"
    shutil.copytree(session_tiny_model, target, ignore=shutil.ignore_patterns("checkpoints"))
    return target
