"""``relion_cryodiscovery score``: score classes without selecting particles.

FILE is a RELION ``_model.star``, ``_optimiser.star`` or ``_data.star`` (its siblings are found
by name), or a bare ``.mrcs`` stack of class averages exported from another package (give
``--angpix``; every metadata feature is then treated as missing). Writes
``cryodiscovery_scores.star``/``.csv`` and the montage into ``--o``.
"""

from __future__ import annotations

import argparse
import sys

from ..pipeline import JobParameters, run_job, score_input


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--i", required=True, metavar="FILE", help="_model.star, _optimiser.star, _data.star or .mrcs")
    parser.add_argument("--o", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--angpix", type=float, help="pixel size in Angstrom (for a bare stack without header value)")
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--min_score", type=float, help="threshold for the 'selected' column (default: calibrated)")
    parser.add_argument("--gpus", default="", help="'' = all visible GPUs, 'cpu' = none, or e.g. 0,1")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--j", type=int, help="TensorFlow CPU threads")
    parser.add_argument("--no_montage", action="store_true", help="do not write the montage PNG")


def run(args: argparse.Namespace) -> int:
    parameters = JobParameters(
        min_score=args.min_score,
        model=args.model,
        gpus=args.gpus,
        batch_size=args.batch_size,
        threads=args.j,
        montage=not args.no_montage,
        angpix=args.angpix,
    )
    return run_job(args.o, lambda output: score_input(args.i, args.o, parameters, output))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relion_cryodiscovery score", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
