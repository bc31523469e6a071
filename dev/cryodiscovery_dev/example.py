"""The bundled example (``examples/class2d_small``) run through the select command, for the docs' montage."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .corpus_paths import EXAMPLE_PROJECT


def example_montage(model: Path, out_png: Path) -> Path:
    """Run the select command with ``model`` on a copy of the bundled example (``--min_particles 10``, as
    the README's demo) and copy its ``cryodiscovery_montage.png`` to ``out_png``; returns ``out_png``."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "class2d_small"
        shutil.copytree(EXAMPLE_PROJECT, project)
        data = sorted(project.glob("Class2D/job001/run_it*_data.star"))[-1].relative_to(project)
        subprocess.run([sys.executable, "-m", "relion_cryodiscovery.cli.main", "select", "--o", "External/job003/",
                        "--in_parts", str(data), "--model", str(Path(model).resolve()), "--min_particles", "10"],
                       cwd=project, check=True, stdout=subprocess.DEVNULL)
        out_png = Path(out_png)
        out_png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project / "External" / "job003" / "cryodiscovery_montage.png", out_png)
    return out_png
