"""relion_cryodiscovery select: the RELION External job (also run outside RELION, with the same options).

Scores every class of a RELION Class2D/Class3D job with the boosted CNN ensemble and writes the
selection RELION continues from into --o: particles.star (the selected classes' particles, input
rows verbatim), class_averages.star (2D) or class_NNN.mrc (3D), backup_selection.star,
rank_model.star / rank_optimiser.star / rank_data.star (all classes sortable by score in
relion_display), cryodiscovery_scores.csv/.star/.json, cryodiscovery_montage.png,
RELION_OUTPUT_NODES.star and, last, RELION_JOB_EXIT_SUCCESS. With --groups N (or auto) the kept 2D
classes are grouped by structure (a mixture of complexes or conformations) and each group's particles
are written to particles_group_N.star, one more particles output node each. On an error: one line in run.err and
RELION_JOB_EXIT_FAILURE; on RELION_JOB_ABORT_NOW: RELION_JOB_EXIT_ABORTED.

Options are RELION's External-job labels: each takes the tokens up to the next --label (a value
with spaces arrives split and is joined back); a label without a value means yes/empty;
--pipeline_control is ignored; unknown labels are reported in run.out and ignored.

Example usage
-------------
  # in RELION's External tab: External executable = cryodiscovery_select, Input particles = the data.star
  relion_cryodiscovery select --o External/job011/ --in_parts Class2D/job010/run_it025_data.star --j 4
  relion_cryodiscovery select --o External/job011/ --in_parts Class2D/job010/run_it025_data.star \\
      --min_particles 20 --min_score 0.5
  relion_cryodiscovery select --o External/job011/ --in_parts Class2D/job010/run_it025_data.star --groups 2
"""

from __future__ import annotations

import argparse
import sys

from ..pipeline import run_job, select_job
from ..relion.sentinels import OutputDirectory
from .external_args import add_external_args, external_arguments, external_values


def add_args(parser: argparse.ArgumentParser) -> None:
    """RELION's External-job options (see the module docstring)."""
    parser.usage = "%(prog)s --o DIR --in_parts FILE [--<param> VALUE ...] [--j N]"
    add_external_args(parser)


def main(args: argparse.Namespace) -> int:
    """Run the External job; returns the exit code (RELION reads the state files, not the code)."""
    out_dir = " ".join(args.o or [])
    if not out_dir:
        print("ERROR: --o OUTPUT_DIR is required (RELION passes --o External/jobNNN/)", file=sys.stderr)
        return 2
    return run_job(out_dir, lambda output: _select(args, output))


def _select(args: argparse.Namespace, output: OutputDirectory) -> None:
    """Inside the job: a bad value fails it with RELION's state files."""
    arguments = external_arguments(external_values(args, getattr(args, "unknown", [])))
    select_job(arguments.inputs["in_parts"], arguments.out_dir, arguments.parameters, output)
