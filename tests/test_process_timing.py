"""The benchmarks' process timing (:mod:`cryodiscovery_dev.process_timing`): what it reads from ``/usr/bin/time``
and from a job's ``run.out`` (no figure is asserted, only that the right fields are read)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryodiscovery_dev.process_timing import peak_rss, step_times, timed_run

RUN_OUT = """model runtime: ONNX Runtime (CPU)
class  score  kept
time imports: 0.58 s
time load model (ONNX Runtime, in background): 0.17 s
time total: 1.00 s
peak RSS: this process 136 MB, model worker process 612 MB
wrote 10 of 20 particles to External/job003/particles.star
"""


def test_step_times_and_peak_rss_are_read_from_run_out(tmp_path: Path) -> None:
    run_out = tmp_path / "run.out"
    run_out.write_text(RUN_OUT)
    assert step_times(run_out) == {"imports": 0.58, "load model (ONNX Runtime, in background)": 0.17, "total": 1.0}
    assert peak_rss(run_out) == (136.0, 612.0)
    run_out.write_text("time total: 2.50 s\n")
    assert peak_rss(run_out) == (None, None)


@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="GNU time (/usr/bin/time) is not installed")
def test_timed_run_gives_the_exit_code_and_the_output_files(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    run = timed_run([sys.executable, "-c", code], tmp_path, tmp_path / "run.out", tmp_path / "run.err")
    assert run["code"] == 3
    assert (tmp_path / "run.out").read_text() == "out\n" and (tmp_path / "run.err").read_text() == "err\n"
    assert set(run) == {"wall_s", "rss_mb", "cpu_s", "code", "tree_rss_mb"}
    assert run["rss_mb"] > 0  # /usr/bin/time's report was parsed
