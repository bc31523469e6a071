"""What makes the External job start fast (issue #21) changes nothing it reads: the particle pass needs no
pandas (it runs in a thread beside the imports), a model.star is read as far as its first two blocks,
and the External executable's process does without pyarrow."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from relion_cryodiscovery.relion import job as relion_job
from relion_cryodiscovery.relion.star import read_blocks

REPO = Path(__file__).resolve().parents[1]


def test_the_particle_pass_imports_no_pandas(example_project: Path, example_data_star: str) -> None:
    code = ("import sys; from relion_cryodiscovery.relion import job, star; "
            f"scan = star.scan_particles({example_data_star!r}); "
            "print(len(scan.class_numbers), sorted(m for m in ('pandas', 'starfile', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=example_project, capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert done.stdout.split()[1:] == ["[]"], done.stdout


def test_a_scan_started_elsewhere_reads_the_same_job(example_project: Path, example_data_star: str) -> None:
    job = relion_job.locate_job(example_project / example_data_star)
    here = relion_job.read_job(job)
    with ThreadPoolExecutor(1) as pool:
        there = relion_job.read_job(job, pool.submit(relion_job.scan_particles, job.data_star))
    assert (there.scan.class_numbers == here.scan.class_numbers).all()
    assert (there.classes.particle_counts == here.classes.particle_counts).all()
    pd.testing.assert_frame_equal(there.model_classes, here.model_classes)


def test_the_particle_counts_can_wait_for_the_scan(example_project: Path, example_data_star: str,
                                                   tmp_path: Path) -> None:
    """``wait=False``: the scan keeps running until :meth:`collect_scan`, then gives the counts an eager
    read gives, and its errors; a model.star without a pixel size waits for the scan (its header's)."""
    import pytest

    from relion_cryodiscovery.errors import CryoDiscoveryError

    job = relion_job.locate_job(example_project / example_data_star)
    here = relion_job.read_job(job)
    with ThreadPoolExecutor(1) as pool:
        later = relion_job.read_job(job, pool.submit(relion_job.scan_particles, job.data_star), wait=False)
        assert later.scan is None and later.classes.particle_counts is None and later.scanning is not None
        assert later.classes.pixel_size == here.classes.pixel_size
        later.collect_scan()
        later.collect_scan()  # once is enough
    assert (later.classes.particle_counts == here.classes.particle_counts).all()
    assert (later.scan.class_numbers == here.scan.class_numbers).all() and later.scanning is None

    text = job.data_star.read_text()
    last = max(i for i, line in enumerate(text.splitlines()) if "@" in line)
    lines = text.splitlines(keepends=True)
    column = relion_job.scan_particles(job.data_star).columns.index("rlnClassNumber")
    values = lines[last].split()
    values[column] = "999"
    lines[last] = " ".join(values) + "\n"
    job.data_star.write_text("".join(lines))
    with ThreadPoolExecutor(1) as pool:
        later = relion_job.read_job(job, pool.submit(relion_job.scan_particles, job.data_star), wait=False)
        with pytest.raises(CryoDiscoveryError, match="_rlnClassNumber 999 is outside"):
            later.collect_scan()

    model_star = job.model_star
    model_star.write_text("\n".join(line for line in model_star.read_text().splitlines()
                                    if not line.startswith("_rlnPixelSize")) + "\n")
    job.data_star.write_text(text)
    with ThreadPoolExecutor(1) as pool:
        waited = relion_job.read_job(job, pool.submit(relion_job.scan_particles, job.data_star), wait=False)
    assert waited.scanning is None and (waited.classes.particle_counts == here.classes.particle_counts).all()
    assert waited.classes.pixel_size == waited.scan.pixel_size


def test_a_model_star_is_read_as_far_as_model_classes(example_project: Path, tmp_path: Path) -> None:
    """RELION writes model_general and model_classes first: a damaged later block (one of the per-class
    spectra) is not read; a file with its blocks in another order is still read whole."""
    model_star = sorted((example_project / "Class2D/job001").glob("run_it*_model.star"))[-1]
    blocks = read_blocks(model_star)
    assert list(blocks)[:2] == ["model_general", "model_classes"] and len(blocks) > 2
    table, general = relion_job.read_model_classes(model_star)
    pd.testing.assert_frame_equal(table, blocks["model_classes"])
    assert general == blocks["model_general"]

    text = model_star.read_text()
    damaged = tmp_path / "damaged_model.star"
    damaged.write_text(text + "\ndata_model_class_999\n\nloop_\n_rlnSpectralIndex #1\n_rlnSsnrMap #2\n1 2 3 \"4\n")
    pd.testing.assert_frame_equal(relion_job.read_model_classes(damaged)[0], table)

    start = text.index("data_model_classes")
    end = text.index("data_", start + 1)
    moved = tmp_path / "moved_model.star"
    moved.write_text(text[:start] + text[end:] + "\n" + text[start:end])
    pd.testing.assert_frame_equal(relion_job.read_model_classes(moved)[0], table)


def test_the_external_executable_does_without_pyarrow(example_project: Path, example_data_star: str) -> None:
    """pandas imports pyarrow when it is installed (starfile requires it); the job's own process never
    needs it, so the executable blocks it (~38 MB and ~0.1 s, docs/benchmarks.md)."""
    code = ("import os, sys\n"
            "exit_now = os._exit\n"
            "def report(code):\n"
            "    print('MODULES', code, sys.modules.get('pyarrow', 'absent'), 'pandas' in sys.modules, flush=True)\n"
            "    exit_now(code)\n"
            "os._exit = report\n"
            f"sys.argv = ['cryodiscovery_select', '--o', 'External/job012/', '--in_parts', {example_data_star!r}, "
            "'--gpus', 'cpu', '--j', '1']\n"
            "from relion_external.cryodiscovery_select import main\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=example_project, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300)
    assert done.stdout.splitlines()[-1] == "MODULES 0 None True", done.stdout + done.stderr
    assert (example_project / "External/job012/RELION_JOB_EXIT_SUCCESS").is_file()
