#!/usr/bin/env python3
"""Build the bundled example RELION project (see cryodiscovery_dev.relion_class2d)."""

from __future__ import annotations

import argparse
import sys
import time

from cryodiscovery_dev.relion_class2d import ExampleConfig, build_example, write_readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="examples/class2d_small", help="project directory (rebuilt from scratch)")
    parser.add_argument("--seed", type=int, default=ExampleConfig.seed)
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    summary = build_example(args.out, ExampleConfig(seed=args.seed))
    write_readme(args.out, summary, f"python scripts/make_example.py --out {args.out} --seed {args.seed}",
                 time.monotonic() - t0)
    print(f"Class2D wall time {summary['class2d_wall_s']} s; {summary['n_good_classes']}/{summary['n_classes']} good classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
