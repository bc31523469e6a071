#!/usr/bin/env python3
"""Do two checkouts write the same outputs? The External job from each on the same project, compared byte for byte.

    python benchmarks/same_outputs.py --before /tmp/old_checkout --after . --project P \
        --in_parts Class2D/job001/run_it025_data.star [-- JOB ARGS]

Both run through the same path (a symlink pointed at each checkout in turn), so their command lines,
and with them the provenance, are the same; the same ``--o``; pass ``--model`` in JOB ARGS to score
both with one model directory. Every output file must be byte-identical, apart from the provenance's
``date`` and ``software`` lines in the JSON/STAR/CSV score files; ``run.out`` must be identical apart
from step times, peak RSS, date and software. Prints what differs; exit code 1 if anything does.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MASKED = re.compile(rb'"date"|_cdiDate|^date:|"software"|_cdiSoftware|^software:')
RUN_OUT_MASKED = re.compile(rb"^time |^peak RSS|^date:|^software:")


def _lines(data: bytes, masked: re.Pattern) -> list[bytes]:
    return [line for line in data.splitlines() if not masked.search(line.lstrip())]


def run(checkout: Path, link: Path, project: Path, in_parts: str, extra: list[str], keep: Path) -> None:
    if link.is_symlink():
        link.unlink()
    link.symlink_to(checkout.resolve())
    out = project / "External/same_outputs"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with (out / "run.out").open("w") as stdout, (out / "run.err").open("w") as stderr:
        subprocess.run([sys.executable, str(link / "relion_external/cryodiscovery_select.py"), "--o",
                        "External/same_outputs/", "--in_parts", in_parts, *extra], cwd=project,
                       env=dict(os.environ, PYTHONPATH=str(link)), stdout=stdout, stderr=stderr)
    shutil.copytree(out, keep)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--in_parts", required=True)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="same_outputs_"))
    link = scratch / "checkout"
    for name, checkout in (("before", args.before), ("after", args.after)):
        run(checkout, link, args.project.resolve(), args.in_parts, extra, scratch / name)
    before, after = scratch / "before", scratch / "after"
    problems = []
    names = sorted({p.name for p in before.iterdir()} | {p.name for p in after.iterdir()})
    for name in names:
        if not (before / name).exists() or not (after / name).exists():
            problems.append(f"only {'after' if (after / name).exists() else 'before'}: {name}")
            continue
        a, b = (before / name).read_bytes(), (after / name).read_bytes()
        if name == "run.out":
            same = _lines(a, RUN_OUT_MASKED) == _lines(b, RUN_OUT_MASKED)
        elif name.startswith("cryodiscovery_scores."):
            same = _lines(a, MASKED) == _lines(b, MASKED)
        else:
            same = a == b
        if not same:
            problems.append(f"differs: {name}")
    print(f"{len(names)} files compared ({args.before} vs {args.after}, {args.project} {args.in_parts} {' '.join(extra)})")
    print("\n".join(problems) if problems else "identical (apart from date, software and step times)")
    shutil.rmtree(scratch)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
