"""A command timed as the benchmarks time it: wall and CPU time and peak RSS under ``/usr/bin/time -v``, the
summed RSS of its whole process tree (a job with a model worker process is two processes), and the step
times and peak RSS a job reports in its ``run.out``.

Used by ``benchmarks/external_job.py``, ``benchmarks/example_job.py`` and ``benchmarks/checkouts_ab.py``.
"""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path


def _tree_rss_kb(pid: int) -> int:
    """Resident set size (kB) of ``pid`` and all its descendants, from /proc (0 once gone)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1)) if "VmRSS" in status else 0
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, AttributeError, ValueError):
            continue
    return total


class TreeRss(threading.Thread):
    """Sample the summed RSS of a process tree every ``interval`` s; ``peak_mb`` is the largest sum seen."""

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def timed_run(command: list[str], cwd: Path, stdout: Path, stderr: Path, env: dict | None = None) -> dict:
    """Run ``command`` under ``/usr/bin/time -v``; wall s, peak RSS MB, CPU s and the exit code.

    ``tree_rss_mb`` is the largest summed RSS of the whole process tree seen every 20 ms (with a
    model worker process the job is two processes; ``/usr/bin/time`` reports only the bigger one).
    """
    stats = stdout.with_suffix(".time")
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(["/usr/bin/time", "-v", "-o", str(stats), *command], cwd=cwd,
                                   stdout=out, stderr=err, env=env)
        sampler = TreeRss(process.pid)
        sampler.start()
        code = process.wait()
        sampler.done.set()
        sampler.join()
    text = stats.read_text()

    def field(label: str) -> str:
        match = re.search(rf"{re.escape(label)}: (.+)", text)
        if not match:
            raise SystemExit(f"/usr/bin/time gave no '{label}' for {command[0]}:\n{text}")
        return match.group(1).strip()

    clock = [float(part) for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(value * 60 ** power for power, value in enumerate(reversed(clock)))
    return {
        "wall_s": wall,
        "rss_mb": int(field("Maximum resident set size (kbytes)")) / 1024,
        "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "code": code,
        "tree_rss_mb": sampler.peak_mb,
    }


def step_times(run_out: Path) -> dict[str, float]:
    """``time <step>: <s> s`` lines of the job's run.out."""
    found = re.finditer(r"^time (.+): ([\d.]+) s$", run_out.read_text(), re.M)
    return {m.group(1): float(m.group(2)) for m in found}


def peak_rss(run_out: Path) -> tuple[float | None, float | None]:
    """(this process, model worker process) peak RSS in MB from run.out's ``peak RSS:`` line (None: absent)."""
    text = run_out.read_text()
    main = re.search(r"^peak RSS: this process (\d+) MB", text, re.M)
    worker = re.search(r"model worker process (\d+) MB", text)
    return (float(main.group(1)) if main else None), (float(worker.group(1)) if worker else None)
