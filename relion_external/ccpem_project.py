"""The CCP-EM pipeliner on a RELION project from a shell: ``convert`` a RELION 3.1 project into the pipeliner's
format, and ``wait`` for a job that ``pipeliner --run_job`` started in the background.

Example usage (in the project directory; docs/ccpem_pipeliner.md, "Use")::

    python -m relion_external.ccpem_project convert                  # a RELION 3.1 project, in place
    python -m relion_external.ccpem_project wait CryoDiscovery/job003/

``convert``: pipeliner 1.6.1 converts a RELION 3.1 ``default_pipeline.star`` only if each job's ``job.star``
has ``_rlnJobIsTomo`` (RELION 4.0 added it; without it the converter stops with ``TypeError: 'NoneType' object
is not subscriptable``). ``convert`` adds ``_rlnJobIsTomo 0`` (no RELION 3.1 job is a tomography job) to each
``job.star`` that lacks it, then runs the pipeliner's own converter (``pipeliner --convert_pipeline_file``).
The project is changed in place and RELION 3.1 cannot open it afterwards, so convert a copy.

``wait``: ``pipeliner --run_job`` returns as soon as the job starts, and ``default_pipeline.star`` shows it as
Running until a later pipeliner command that changes the project. Until then, ``--metadata_report`` says the job
"has not finished successfully". ``wait`` waits until the pipeliner's job runner has written its
``PIPELINER_JOB_EXIT_*`` file, then records the outcome in ``default_pipeline.star`` with the pipeliner's own
check (``ProjectGraph.check_process_completion``, which every project-changing command runs first). It exits 0
when the job succeeded and 1 when it failed or was aborted (its ``run.err`` printed), or 2 on timeout.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

#: The files the pipeliner's job runner writes when a job ends, and the status each means.
OUTCOMES = {"PIPELINER_JOB_EXIT_SUCCESS": "Succeeded", "PIPELINER_JOB_EXIT_FAILED": "Failed",
            "PIPELINER_JOB_EXIT_ABORTED": "Aborted"}
_IS_CONTINUE = re.compile(r"^_rlnJobIsContinue\b.*$", re.MULTILINE)


@contextmanager
def in_directory(path: Path) -> Iterator[None]:
    """Work in ``path`` (the pipeliner reads a project relative to the working directory)."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def add_is_tomo(project: Path) -> list[Path]:
    """Add ``_rlnJobIsTomo 0`` after ``_rlnJobIsContinue`` to each ``<Type>/jobNNN/job.star`` of ``project``
    that lacks it; returns the files changed."""
    changed = []
    for job_star in sorted(project.glob("*/job*/job.star")):
        text = job_star.read_text()
        match = _IS_CONTINUE.search(text)
        if "_rlnJobIsTomo" in text or match is None:
            continue
        job_star.write_text(text[:match.end()] + "\n_rlnJobIsTomo 0" + text[match.end():])
        changed.append(job_star)
    return changed


def convert(project: Path) -> bool:
    """Convert the RELION 3.1 project ``project`` into the pipeliner's format, in place: ``_rlnJobIsTomo`` added
    (:func:`add_is_tomo`), then the pipeliner's converter. Returns False if it was already converted."""
    from pipeliner.api.manage_project import convert_pipeline

    if not (project / "default_pipeline.star").is_file():
        raise FileNotFoundError(f"{project / 'default_pipeline.star'}: not found (is {project} a RELION project?)")
    add_is_tomo(project)
    with in_directory(project):
        return bool(convert_pipeline("default"))


def job_outcome(job_dir: Path) -> str | None:
    """The status the job runner's ``PIPELINER_JOB_EXIT_*`` file in ``job_dir`` names, or None while it runs."""
    for name, status in OUTCOMES.items():
        if (job_dir / name).exists():
            return status
    return None


def wait(job: str, project: Path = Path("."), timeout: float = 3600, poll: float = 0.5) -> str | None:
    """Wait until the job runner ends ``job`` (a job directory, e.g. ``CryoDiscovery/job003/``), then record
    its status in ``default_pipeline.star``; returns the status, or None if it did not end within ``timeout`` s."""
    from pipeliner.project_graph import ProjectGraph

    deadline = time.monotonic() + timeout
    while (status := job_outcome(project / job)) is None:
        if time.monotonic() > deadline:
            return None
        time.sleep(poll)
    with in_directory(project), ProjectGraph(read_only=False) as pipeline:
        pipeline.check_process_completion()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relion_external.ccpem_project", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    to_convert = commands.add_parser("convert", help="convert a RELION 3.1 project into the pipeliner's format")
    to_convert.add_argument("project", nargs="?", type=Path, default=Path("."), help="project directory (default .)")
    to_wait = commands.add_parser("wait", help="wait for a job started by pipeliner --run_job; record its status")
    to_wait.add_argument("job", help="the job's directory, e.g. CryoDiscovery/job003/")
    to_wait.add_argument("--project", type=Path, default=Path("."), help="project directory (default .)")
    to_wait.add_argument("--timeout", type=float, default=3600, help="seconds to wait at most (default 3600)")
    args = parser.parse_args(argv)
    if args.command == "convert":
        converted = convert(args.project)
        print(f"{args.project / 'default_pipeline.star'}: "
              + ("converted to the pipeliner's format" if converted else "already in the pipeliner's format"))
        return 0
    status = wait(args.job, args.project, args.timeout)
    if status is None:
        print(f"{args.job}: still running after {args.timeout:g} s", file=sys.stderr)
        return 2
    print(f"{args.job}: {status}")
    if status != "Succeeded":
        error = args.project / args.job / "run.err"
        if error.is_file():
            print(error.read_text().rstrip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
