"""What the Class2D and Class3D corpus builders share: a RELION 3.1 project driven by Debian's
``relion_pipeliner``, its job options, the pruning of a finished job, and a Select job written
from ground-truth labels."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .simulate.relion_files import set_process_status

#: The Select job both builders add after their classification job.
SELECT_JOB = "Select/job002/"


def particle_diameter(structure_diameter_a: float, box: int, pixel_size: float) -> int:
    """Mask diameter (A): the structure plus ~15%, rounded up to 10 A, kept inside the box."""
    d = int(np.ceil(1.15 * structure_diameter_a / 10.0) * 10)
    return int(min(d, np.floor(0.95 * box * pixel_size / 10.0) * 10))


def run_pipeliner(project: Path, *args: str, timeout: float = 120.0) -> None:
    """``relion_pipeliner ARGS`` in the project directory (stdout discarded, fails on error)."""
    subprocess.run(["relion_pipeliner", *args], cwd=project, check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def prepare_output(out: Path) -> None:
    """Remove an earlier project at ``out``; refuse a non-empty directory that is not a RELION project."""
    if out.exists():
        if any(out.iterdir()) and not (out / "default_pipeline.star").exists():
            raise FileExistsError(f"{out} exists and is not a RELION project made by this script")
        shutil.rmtree(out)


def init_project(project: Path) -> None:
    """Empty RELION project: minimal default_pipeline.star plus the GUI's project marker."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "default_pipeline.star").write_text("data_pipeline_general\n\n_rlnPipeLineJobCounter                       1\n")
    (project / ".gui_projectdir").touch()


def job_options(options: Mapping[str, object]) -> str:
    """A ``--addJobOptions`` string: ``name == value;`` with no blank after ';' (RELION does not trim)."""
    return "".join(f"{name} == {value};" for name, value in options.items())


def run_job(project: Path, job_type: str, job_dir: str, options: str, timeout: float) -> float:
    """Schedule a job of ``job_type`` with ``options`` and run it as ``job_dir``; its wall time in seconds."""
    run_pipeliner(project, "--addJob", job_type, "--addJobOptions", options)
    t0 = time.monotonic()
    run_pipeliner(project, "--RunJobs", job_dir, "--sec_wait_after", "1", timeout=timeout)
    wall = time.monotonic() - t0
    if not (project / job_dir / "RELION_JOB_EXIT_SUCCESS").exists():
        raise RuntimeError(f"{job_type} failed; see {project / job_dir / 'run.err'}")
    return wall


def prune_job(job_dir: Path, keep: Iterable[str]) -> None:
    """Delete every file of a finished job except those named in ``keep``."""
    keep = set(keep)
    for f in job_dir.iterdir():
        if f.name not in keep:
            f.unlink()


def merge_truth(data: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per-particle truth with the class RELION assigned (``class_number``), joined on the image name."""
    merged = truth.merge(data[["rlnImageName", "rlnClassNumber"]], on="rlnImageName", how="left", validate="1:1")
    return merged.rename(columns={"rlnClassNumber": "class_number"})


def schedule_select(project: Path, model_star: str) -> None:
    """Schedule a Select job on ``model_star`` as RELION 3.1 records it (its files are written by the caller)."""
    run_pipeliner(project, "--addJob", "Select", "--addJobOptions", f"fn_model == {model_star};do_recenter == No;")


def finish_select(project: Path, job: Path) -> None:
    """Mark the Select job written from labels as finished in the project's pipeline."""
    for extra in ("job_pipeline.star", "default_pipeline.star"):
        (job / extra).unlink(missing_ok=True)
    set_process_status(project / "default_pipeline.star", SELECT_JOB, 2)
