#!/usr/bin/env python3
"""Time the particle scan and filter of ``relion/star.py`` (and library alternatives) on one data.star.

    python benchmarks/star_scan_filter.py BIG/p1000000_k200/Class2D/job001/run_it025_data.star
    PYTHONPATH=/tmp/before python benchmarks/star_scan_filter.py FILE      # another checkout's star.py
    python benchmarks/star_scan_filter.py FILE --pandas --starfile         # + pandas C parser, starfile

Prints one JSON line: median seconds of ``--repeat`` runs of ``scan_particles`` and of
``filter_particles`` keeping classes 1..K/2 (written to a temporary file), and optionally of
``pandas.read_csv(sep=r"\\s+", usecols=[class column])`` (the class column only, the fastest
pandas way) and ``starfile.read`` (the whole file, once, with its peak RSS).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def median_time(function, repeat: int) -> tuple[float, object]:
    """Median wall seconds of ``repeat`` calls and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_star", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pandas", action="store_true",
                        help="also time pandas.read_csv on the class column")
    parser.add_argument("--starfile", action="store_true",
                        help="also time starfile.read of the whole file (slow)")
    args = parser.parse_args(argv)

    from relion_cryodiscovery.relion import star

    result: dict[str, object] = {"star_py": star.__file__,
                                 "file_mb": round(args.data_star.stat().st_size / 1e6, 1)}
    result["scan_s"], scan = median_time(lambda: star.scan_particles(args.data_star), args.repeat)
    keep = list(range(1, int(scan.class_numbers.max()) // 2 + 1))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "particles.star"

        def write() -> int:
            with out.open("w") as handle:
                return star.filter_particles(scan, keep, handle)

        result["filter_s"], result["rows_written"] = median_time(write, args.repeat)
    result["rows"] = len(scan.class_numbers)
    if args.pandas:
        import pandas as pd

        header = 0
        with args.data_star.open() as handle:
            for header, line in enumerate(handle):
                if "@" in line:
                    break
        column = scan.columns.index("rlnClassNumber")
        result["pandas_class_column_s"], frame = median_time(
            lambda: pd.read_csv(args.data_star, sep=r"\s+", header=None, usecols=[column], skiprows=header,
                                dtype=np.int64, engine="c"),
            args.repeat,
        )
        assert np.array_equal(frame[column].to_numpy(), scan.class_numbers)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["peak_rss_mb_before_starfile"] = round(peak, 1)
    if args.starfile:
        import starfile

        result["starfile_read_s"], _ = median_time(lambda: starfile.read(args.data_star, always_dict=True), 1)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["peak_rss_mb_after_starfile"] = round(peak, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
