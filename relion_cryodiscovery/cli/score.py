"""relion_cryodiscovery score: score classes without selecting particles.

--i is a RELION Class2D/Class3D job directory (its last iteration), any *_model.star,
*_optimiser.star or *_data.star of one (siblings are found by the shared prefix; only the
_model.star is needed, the _data.star adds particle counts; RELION 3.0's files are read too), a bare
.mrcs stack of class averages exported from another package (give --angpix; every metadata feature
is then missing), or a .mrc 3D map, scored as one 3D class. A .mrc is a map when its header says
volume (MRC space group 1-230) or, with space group 0 (as RELION writes maps), when it is a cube;
name a stack of 2D class averages .mrcs.
Writes cryodiscovery_scores.csv (a plain table), cryodiscovery_scores.star and .json (with the
provenance) and cryodiscovery_montage.png into --o, with RELION's state files. The "selected"
column applies --min_score (default: the model's calibrated threshold).

Example usage
-------------
  relion_cryodiscovery score --i Class2D/job010/run_it025_model.star --o scored/
  relion_cryodiscovery score --i cryosparc_classes.mrcs --angpix 1.06 --o scored/ --no_montage
"""

from __future__ import annotations

import argparse

from ..data.polarity import CONTRAST_CHOICES
from ..model.card import STRICTNESS_LEVELS
from ..pipeline import JobParameters, run_job, score_input
from .main import option


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of the score subcommand."""
    parser.add_argument("--i", required=True, metavar="FILE",
                        help="job directory, *_model/_optimiser/_data.star, .mrcs stack or .mrc map")
    parser.add_argument("--o", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--angpix", type=float, metavar="A",
                        help="pixel size in Angstrom (for a bare stack without a header value)")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: the shipped model)")
    option(parser, "--min_score", type=float, metavar="P",
                        help="threshold for the 'selected' column (default: the model's calibrated one)")
    parser.add_argument("--strictness", default="balanced", choices=STRICTNESS_LEVELS,
                        help="the model's operating point for the 'selected' column; balanced and strict also judge "
                             "each class against the job's best classes (strict more tightly), lenient does not")
    parser.add_argument("--contrast", default="auto", choices=CONTRAST_CHOICES,
                        help="auto: detect protein-dark classes and score them flipped; or force the input's polarity")
    parser.add_argument("--gpus", default="", metavar="LIST",
                        help="empty = all visible GPUs, 'cpu' = CPU only, or a list such as 0,1")
    option(parser, "--batch_size", type=int, default=256, metavar="N", help="classes per inference batch")
    parser.add_argument("--j", type=int, metavar="N", help="TensorFlow CPU threads")
    option(parser, "--no_montage", action="store_true", help="do not write cryodiscovery_montage.png")
    parser.add_argument("--groups", default="0", metavar="N|auto",
                        help="0 = off, N or auto: group the kept 2D classes by structure (the scores' group column)")


def main(args: argparse.Namespace) -> int:
    """Score inside RELION's state-file contract; returns the exit code."""
    parameters = JobParameters(
        min_score=args.min_score,
        strictness=args.strictness,
        contrast=args.contrast,
        model=args.model,
        gpus=args.gpus,
        batch_size=args.batch_size,
        threads=args.j,
        montage=not args.no_montage,
        angpix=args.angpix,
        groups=args.groups,
    )
    return run_job(args.o, lambda output: score_input(args.i, args.o, parameters, output))
