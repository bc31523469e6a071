"""relion_cryodiscovery evaluate: compare a class selection with ground truth.

--pred is a CryoDiscovery output directory or its cryodiscovery_scores.csv. --truth is a RELION
Select job directory, its backup_selection.star / class_averages.star / particles.star, or a CSV
class_number,label (1 good, 0 bad). Writes metrics.json, metrics.txt, PNG plots and
report.html into --o and prints the table. Class averages, particle averages and FSC of
relion_reconstruct maps are compared when their inputs exist; otherwise a note says why not.

Example usage
-------------
  relion_cryodiscovery evaluate --pred External/job011/ --truth Select/job012/ --o evaluation/
  relion_cryodiscovery evaluate --pred External/job011/ --truth ground_truth/classes.csv --o evaluation/ \\
      --reconstruct never --no_html
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CryoDiscoveryError
from .main import option


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of the evaluate subcommand."""
    parser.add_argument("--pred", required=True, metavar="DIR_OR_CSV",
                        help="CryoDiscovery output directory or its cryodiscovery_scores.csv")
    parser.add_argument("--truth", required=True, metavar="FILE_OR_DIR",
                        help="Select job directory, backup_selection.star, class_averages.star, "
                             "particles.star or a CSV class_number,label")
    parser.add_argument("--o", required=True, metavar="DIR", help="output directory")
    option(parser, "--particles_truth", metavar="CSV",
           help="per-particle truth: label (1/0) with class_number and/or image_name")
    option(parser, "--class_images", metavar="FILE", help="all class images: run_itNNN_classes.mrcs or _model.star")
    option(parser, "--project_dir", metavar="DIR",
           help="RELION project directory (default: found from the STAR file locations)")
    option(parser, "--mask_diameter", type=float, metavar="A", help="soft spherical mask diameter in Angstrom for the FSC")
    option(parser, "--max_particles", type=int, default=2000, metavar="N",
           help="particles averaged per selection (deterministic subsample)")
    parser.add_argument("--reference", metavar="MAP", help="reference map for FSC of the reconstructions")
    parser.add_argument("--reconstruct", choices=("auto", "always", "never"), default="auto",
                        help="reconstruct both selections with relion_reconstruct when they have 3D angles")
    parser.add_argument("--sym", default="C1", metavar="GROUP", help="symmetry for relion_reconstruct")
    option(parser, "--no_html", dest="html", action="store_false", help="do not write report.html")


def main(args: argparse.Namespace) -> int:
    """Run the evaluation; print the table, or one error line and return 1."""
    from ..evaluation.report import EvaluationOptions, evaluate

    options = EvaluationOptions(
        particles_truth=Path(args.particles_truth) if args.particles_truth else None,
        reference=Path(args.reference) if args.reference else None,
        class_images=Path(args.class_images) if args.class_images else None,
        project_dir=Path(args.project_dir) if args.project_dir else None,
        reconstruct=args.reconstruct,
        sym=args.sym,
        mask_diameter=args.mask_diameter,
        max_particles=args.max_particles,
        html=args.html,
    )
    try:
        evaluate(args.pred, args.truth, args.o, options)
    except CryoDiscoveryError as exc:
        print(f"ERROR: {exc.one_line()}", file=sys.stderr)
        return 1
    print((Path(args.o) / "metrics.txt").read_text(), end="")
    return 0
