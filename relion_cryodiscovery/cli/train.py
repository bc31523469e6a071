"""``relion_cryodiscovery train``: train or fine-tune the boosted ensemble on a lab's own selections.

Ground truth comes from RELION Select jobs: every Select job in a project's
``default_pipeline.star`` that took a Class2D/Class3D job as input (``--project``), explicit
``--job``/``--selection`` pairs, or a CSV manifest (``job,selection[,group]``). Validation and test
sets are held out by job (or by the manifest's group). The output directory is a complete model:
``relion_cryodiscovery select --model DIR`` (External Param ``model``) uses it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CryoDiscoveryError, JobAborted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("training data")
    data.add_argument("--project", action="append", type=Path, default=[], metavar="DIR",
                      help="RELION project directory (repeatable)")
    data.add_argument("--job", action="append", type=Path, default=[], metavar="FILE_OR_DIR",
                      help="Class2D/Class3D job dir or run_itNNN_*.star (repeatable; pair with --selection)")
    data.add_argument("--selection", action="append", type=Path, default=[], metavar="DIR_OR_FILE",
                      help="Select job dir or its backup_selection/class_averages/particles.star (one per --job)")
    data.add_argument("--manifest", action="append", type=Path, default=[], metavar="FILE",
                      help="CSV with columns job,selection[,group] (repeatable)")
    parser.add_argument("--o", required=True, type=Path, metavar="MODEL_DIR", help="output model directory")
    parser.add_argument("--epochs", type=int, default=40, help="maximum epochs per ensemble member (early stopping)")
    parser.add_argument("--batch-size", type=int, default=64, help="per-replica batch size")
    parser.add_argument("--learning-rate", type=float, help="default 1e-3 (fine-tuning: the network's default / 10)")
    parser.add_argument("--init-from", type=Path, metavar="MODEL_DIR",
                        help="fine-tune this ensemble ('default' = the shipped model)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --o")
    parser.add_argument("--gpus", default="", help="'' = all visible GPUs, 'cpu' = none, or e.g. 0,1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--model-version", default="custom", help="version string written into the model card")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, one line per epoch")


def run(args: argparse.Namespace) -> int:
    from ..training.run import TrainOptions, train_model

    if len(args.job) != len(args.selection):
        print(f"ERROR: {len(args.job)} --job but {len(args.selection)} --selection; give them in pairs", file=sys.stderr)
        return 2
    options = TrainOptions(
        out_dir=args.o, projects=args.project, pairs=list(zip(args.job, args.selection)), manifests=args.manifest,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, init_from=args.init_from,
        resume=args.resume, gpus=args.gpus, seed=args.seed, val_fraction=args.val_fraction,
        test_fraction=args.test_fraction, model_version=args.model_version, verbose=2 if args.quiet else 1,
    )
    try:
        ensemble = train_model(options)
    except CryoDiscoveryError as error:
        print(f"ERROR: {error.one_line()}", file=sys.stderr)
        return 1
    except JobAborted:
        print("training interrupted; rerun with --resume to continue", file=sys.stderr)
        return 2
    print(f"model written to {args.o} (threshold {ensemble.threshold:.3f}, validation ECE {ensemble.card.ece:.3f})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cryodiscovery_train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
