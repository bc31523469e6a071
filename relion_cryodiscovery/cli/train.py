"""relion_cryodiscovery train: train or fine-tune the boosted ensemble on a lab's own selections.

Ground truth comes from RELION Select jobs: every Select job in a project's default_pipeline.star
that took a Class2D/Class3D job as input (--project), explicit --job/--selection pairs, or a CSV
manifest (job,selection[,group]). Validation and test sets are held out by job (or by the
manifest's group). With --init_from and a single labelled job, that job's classes are split into
training and validation instead (stratified by label, seeded), and the log and model card say so.
The output directory is a complete model: relion_cryodiscovery select --model DIR (External Param
model) uses it. The same command is installed as cryodiscovery_train.

Example usage
-------------
  relion_cryodiscovery train --project /data/my_project --init_from default --o my_model
  relion_cryodiscovery train --job Class2D/job010/ --selection Select/job011/ --init_from default --o my_model
  relion_cryodiscovery train --manifest corpus.csv --epochs 60 --o my_model --resume
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CryoDiscoveryError, JobAborted
from .main import option


def add_args(parser: argparse.ArgumentParser) -> None:
    """Options of the train subcommand."""
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
    parser.add_argument("--epochs", type=int, default=40, metavar="N",
                        help="maximum epochs per ensemble member (early stopping)")
    option(parser, "--batch_size", type=int, default=64, metavar="N", help="per-replica batch size")
    option(parser, "--learning_rate", type=float, metavar="RATE",
           help="default 1e-3 (fine-tuning: the network's default / 10)")
    option(parser, "--init_from", type=Path, metavar="MODEL_DIR",
           help="fine-tune this ensemble ('default' = the shipped model); allows a single labelled job")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --o")
    parser.add_argument("--gpus", default="", metavar="LIST",
                        help="empty = all visible GPUs, 'cpu' = CPU only, or a list such as 0,1")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, shuffling and augmentation")
    option(parser, "--val_fraction", type=float, default=0.15, metavar="F",
           help="fraction of the classes (by job) held out for validation")
    option(parser, "--test_fraction", type=float, default=0.15, metavar="F",
           help="fraction of the classes (by job) held out for the final test")
    option(parser, "--model_version", default="custom", metavar="TEXT", help="version string written into the model card")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, one line per epoch")


def main(args: argparse.Namespace) -> int:
    """Train and write the model directory; one error line and a non-zero code on failure."""
    from ..model.runtime import tensorflow_installed, tensorflow_missing

    if not tensorflow_installed():  # a selection-only install
        print(f"ERROR: {tensorflow_missing('training').one_line()}", file=sys.stderr)
        return 1
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
