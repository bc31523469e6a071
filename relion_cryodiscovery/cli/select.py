"""``relion_cryodiscovery select``: the External job outside RELION (same flags)."""

from __future__ import annotations

import sys

from ..pipeline import run_job, select_job
from ..relion.sentinels import OutputDirectory
from .external_args import output_dir_argument, parse_external, usage

SUMMARY = (
    "Score every class of a RELION Class2D/Class3D job with the boosted CNN ensemble and write the\n"
    "selection (particles.star, class_averages.star, backup_selection.star, rank_*.star, scores,\n"
    "RELION_OUTPUT_NODES.star, RELION_JOB_EXIT_SUCCESS) into --o."
)


def main(argv: list[str] | None = None, program: str = "relion_cryodiscovery select") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or "-h" in argv or "--help" in argv:
        print(usage(program, SUMMARY))
        return 0
    out_dir = output_dir_argument(argv)
    if not out_dir:
        print("ERROR: --o OUTPUT_DIR is required (RELION passes --o External/jobNNN/)", file=sys.stderr)
        return 2
    return run_job(out_dir, lambda output: _select(argv, output))


def _select(argv: list[str], output: OutputDirectory) -> None:
    arguments = parse_external(argv)
    select_job(arguments.inputs["in_parts"], arguments.out_dir, arguments.parameters, output)


if __name__ == "__main__":
    sys.exit(main())
