#!/usr/bin/env python3
"""Inclusive time per function from a py-spy raw profile, per thread.

    py-spy record -r 100 --threads -f raw -o prof.txt -- python relion_external/cryodiscovery_select.py ...
    python benchmarks/profile_summary.py prof.txt --rate 100 --match pipeline star.py outputs plots

Prints, for each thread, the seconds (samples / rate) spent in each function whose
"function (file" key contains one of --match (all functions with --match omitted), largest first.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path


def summarise(path: Path) -> dict[str, collections.Counter]:
    """{thread: Counter(function key -> samples)}; a thread is the first frame when --threads was used."""
    threads: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = frames[0] if frames[0].startswith(("thread ", "process ")) else "all"
        seen = set()
        for frame in frames:
            name, _, location = frame.partition(" (")
            key = f"{name} ({location.split(':')[0].rsplit('/', 1)[-1]})" if location else name
            if key not in seen:
                seen.add(key)
                threads[thread][key] += int(count)
    return threads


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy record -f raw output")
    parser.add_argument("--rate", type=float, default=100.0, help="the -r given to py-spy (samples/s)")
    parser.add_argument("--match", nargs="*", default=[],
                        help="keep functions whose key contains one of these")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    for thread, counter in summarise(args.profile).items():
        rows = [(key, n) for key, n in counter.most_common()
                if not args.match or any(m in key for m in args.match)]
        print(f"{thread}: {max(counter.values()) / args.rate:.2f} s sampled")
        for key, n in rows[: args.top]:
            print(f"  {n / args.rate:7.2f} s  {key}")


if __name__ == "__main__":
    main()
