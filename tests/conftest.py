"""Shared fixtures: the bundled example project, the shipped model, RELION availability."""

from __future__ import annotations

import os
import shutil
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
