#!/usr/bin/env python3
"""Same-run, interleaved timing of another checkout's ``relion/star.py`` against this one, on one data.star.

    git archive HEAD relion_cryodiscovery | tar -x -C /tmp/before
    python benchmarks/star_interleaved.py BIG/p1000000_k200/Class2D/job001/run_it025_data.star --before /tmp/before

The other checkout's package is copied under another name and imported in the same process, so
each round runs scan and filter of both (the order alternating every round) under the same load:
on a busy machine this is the only fair comparison. Prints one JSON object: min and median wall
and CPU seconds of each, and the after/before ratios.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def import_copy(package: Path):
    """Import the package directory ``package`` under its directory's name (its relion.star loaded)."""
    spec = importlib.util.spec_from_file_location(package.name, package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[package.name] = module
    spec.loader.exec_module(module)
    importlib.import_module(f"{package.name}.relion.star")
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_star", type=Path)
    parser.add_argument("--before", type=Path, required=True,
                        help="directory holding the other checkout's relion_cryodiscovery/")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp())
    shutil.copytree(args.before / "relion_cryodiscovery", work / "rcd_before")
    before = import_copy(work / "rcd_before").relion.star  # the copy, imported under its own name

    from relion_cryodiscovery.relion import star as after

    times: dict[tuple[str, str, str], list[float]] = {
        (v, op, clock): [] for v in ("before", "after") for op in ("scan", "filter") for clock in ("wall", "cpu")}
    out = work / "particles.star"

    def timed(version: str, op: str, call):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        times[(version, op, "wall")].append(time.perf_counter() - wall)
        times[(version, op, "cpu")].append(time.process_time() - cpu)
        return result

    def write(module, scan) -> int:
        with out.open("w") as handle:
            return module.filter_particles(scan, keep, handle)

    keep: list[int] = []
    for number in range(args.rounds):
        order = [("before", before), ("after", after)][:: 1 if number % 2 == 0 else -1]
        scans = {v: timed(v, "scan", lambda m=m: m.scan_particles(args.data_star)) for v, m in order}
        if (scans["before"].class_numbers != scans["after"].class_numbers).any():
            raise SystemExit("the two scans disagree")
        keep = keep or list(range(1, int(scans["after"].class_numbers.max()) // 2 + 1))
        written = {v: timed(v, "filter", lambda m=m, v=v: write(m, scans[v])) for v, m in order}
        if written["before"] != written["after"]:
            raise SystemExit("the two filters disagree")
    result: dict[str, object] = {"rounds": args.rounds, "rows": int(len(scans["after"].class_numbers))}
    for op in ("scan", "filter"):
        for clock in ("wall", "cpu"):
            b, a = times[("before", op, clock)], times[("after", op, clock)]
            result[f"{op}_{clock}"] = {
                "before_min": round(min(b), 3), "after_min": round(min(a), 3),
                "before_median": round(statistics.median(b), 3), "after_median": round(statistics.median(a), 3),
                "ratio_min": round(min(a) / min(b), 3), "ratio_median": round(statistics.median(a) / statistics.median(b), 3)}
    shutil.rmtree(work)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
