"""``relion_cryodiscovery evaluate``: compare a class selection with ground truth.

--pred is a CryoDiscovery output directory or its cryodiscovery_scores.csv. --truth is a RELION
Select job directory, its backup_selection.star / class_averages.star / particles.star, or a CSV
``class_number,label`` (1 good, 0 bad). Writes metrics.json, metrics.txt, PNG plots and
report.html into --o and prints the table. Class averages, particle averages and FSC of
relion_reconstruct maps are compared when their inputs exist; otherwise a note says why not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CryoDiscoveryError
from ..evaluation.report import EvaluationOptions, evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the evaluate subcommand."""
    parser.add_argument("--pred", required=True, metavar="DIR_OR_CSV",
                        help="CryoDiscovery output dir or scores CSV")
    parser.add_argument("--truth", required=True, metavar="FILE_OR_DIR",
                        help="Select job dir, backup_selection.star, class_averages.star, "
                             "particles.star or CSV")
    parser.add_argument("--o", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--particles-truth", "--particles_truth", dest="particles_truth", metavar="CSV",
                        help="per-particle truth: label (1/0) with class_number and/or image_name")
    parser.add_argument("--reference", metavar="MAP", help="reference map for FSC of the reconstructions")
    parser.add_argument("--class-images", "--class_images", dest="class_images", metavar="FILE",
                        help="all class images: run_itNNN_classes.mrcs or _model.star")
    parser.add_argument("--project-dir", "--project_dir", dest="project_dir", metavar="DIR",
                        help="RELION project directory (default: found from the STAR file locations)")
    parser.add_argument("--reconstruct", choices=("auto", "always", "never"), default="auto",
                        help="reconstruct both selections with relion_reconstruct when they have 3D angles")
    parser.add_argument("--sym", default="C1", help="symmetry for relion_reconstruct (default C1)")
    parser.add_argument("--mask-diameter", "--mask_diameter", dest="mask_diameter", type=float, metavar="A",
                        help="soft spherical mask diameter in Angstrom for the FSC")
    parser.add_argument("--max-particles", "--max_particles", dest="max_particles", type=int, default=2000,
                        help="particles averaged per selection (deterministic subsample; default 2000)")
    parser.add_argument("--no-html", "--no_html", dest="html", action="store_false",
                        help="do not write report.html")


def run(args: argparse.Namespace) -> int:
    """Run the evaluation; print the table, or one error line and return 1."""
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


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point."""
    parser = argparse.ArgumentParser(prog="relion_cryodiscovery evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
