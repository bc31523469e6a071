"""Compare two CryoDiscovery output directories file by file: byte-identical apart from what may differ.

A reviewer's check that a refactoring did not change the outputs (issue #13). Lines that may differ
between two runs of the same command are left out of the comparison: STAR/CSV comment lines (``#``),
and in the provenance the ``date`` (``_cdiDate``, ``# date:``). Known, intended changes are reported
as such, not as failures:

* the output directory's own path where the provenance's command line names it (``--o DIR``);
* ``cryodiscovery_scores.csv``: the old file's leading ``# key: value`` lines are dropped (the table
  must be equal);
* ``cryodiscovery_scores.json``: new (its provenance must equal the old CSV's ``#`` lines, date aside);
* ``cryodiscovery_montage.png``: the text band under each tile is taller and the reasons are wrapped
  instead of cut off; the title, every tile with its frame and every headline must be identical.

Usage (``scripts/compare_with_before.sh`` runs it on the three reference commands)::

    python scripts/compare_outputs.py BEFORE_DIR AFTER_DIR   # exit 0 when equal as described
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: Provenance entries that differ between two runs of the same command.
VOLATILE = ("date",)
PROVENANCE_STAR_PREFIX = "_cdi"
STATE_FILES = ("RELION_JOB_EXIT_SUCCESS",)


def significant_lines(text: str) -> list[str]:
    """Lines of a STAR or CSV file without comments and volatile provenance entries."""
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if any(stripped.startswith(f"{PROVENANCE_STAR_PREFIX}{key.title()} ") for key in VOLATILE):
            continue
        kept.append(line)
    return kept


def csv_provenance(text: str) -> dict[str, str]:
    """The ``# key: value`` lines that the CSV carried before #13."""
    pairs = (line[2:].split(": ", 1) for line in text.splitlines() if line.startswith("# "))
    return {key: value for key, value in pairs}


def compare(before: Path, after: Path) -> list[str]:
    """Problems found (empty: equal apart from the described changes); prints what was checked."""
    problems = []
    names_before = {p.name for p in before.iterdir() if p.is_file()}
    names_after = {p.name for p in after.iterdir() if p.is_file() and p.name not in ("run.out", "run.err")}
    names_before -= {"run.out", "run.err"}
    for name in sorted(names_before - names_after):
        problems.append(f"{name}: missing after")
    for name in sorted(names_after - names_before - {"cryodiscovery_scores.json"}):
        problems.append(f"{name}: new after")
    for name in sorted(names_before & names_after):
        old, new = (before / name).read_bytes(), (after / name).read_bytes()
        if not name.endswith(".png"):  # the command line's --o names the directory itself
            old = old.replace(str(before).encode(), str(after).encode())
        if name.endswith(".png"):
            status = "identical" if old == new else _png_difference(before / name, after / name)
            if "DIFFERENT" in status:
                problems.append(f"{name}: {status}")
        elif old == new:
            status = "identical"
        elif name.endswith((".star", ".csv")) and significant_lines(old.decode()) == significant_lines(new.decode()):
            status = "identical apart from comment lines and the date"
        else:
            status = "DIFFERENT"
            problems.append(f"{name}: content differs")
        print(f"{name:32s} {status}")
    csv_old = before / "cryodiscovery_scores.csv"
    json_new = after / "cryodiscovery_scores.json"
    if csv_old.is_file() and json_new.is_file():
        old_text = csv_old.read_text().replace(str(before), str(after))
        old_info = {k: v for k, v in csv_provenance(old_text).items() if k not in VOLATILE}
        new_info = {k: v for k, v in json.loads(json_new.read_text())["provenance"].items() if k not in VOLATILE}
        same = old_info == new_info
        print(f"{'cryodiscovery_scores.json':32s} new; provenance {'equals' if same else 'DIFFERS FROM'} the old CSV's # lines")
        if not same:
            problems.append("cryodiscovery_scores.json: provenance differs from the old CSV's # lines")
        if (after / "cryodiscovery_scores.csv").read_text().startswith("#"):
            problems.append("cryodiscovery_scores.csv: still starts with # lines")
    return problems


#: Height of the text band under each tile before #13 (one reason line, cut off when too long).
OLD_TEXT_BAND = 26
#: The headline under a tile ("#3 0.01 REJECT") ends this many pixels below the tile.
HEADLINE = 12


def _png_difference(old: Path, new: Path) -> str:
    """How two montages differ. With the #13 layout change (taller text band, wrapped reasons), the
    title, every tile with its frame and every headline are compared pixel for pixel."""
    import numpy as np
    from PIL import Image

    from relion_cryodiscovery.pipeline.montage import TEXT_BAND, TILE, TITLE_BAND

    a, b = (np.asarray(Image.open(p).convert("RGB")) for p in (old, new))
    if a.shape == b.shape:
        rows, _ = np.nonzero((a != b).any(axis=2))
        return "identical pixels (encoding differs)" if not len(rows) else f"DIFFERENT in {len(rows)} pixels"
    n_rows = (a.shape[0] - TITLE_BAND) // (TILE + OLD_TEXT_BAND)
    if a.shape[1] != b.shape[1] or (b.shape[0] - TITLE_BAND) != n_rows * (TILE + TEXT_BAND):
        return f"DIFFERENT layout: {a.shape[1]}x{a.shape[0]} -> {b.shape[1]}x{b.shape[0]}"
    same = np.array_equal(a[:TITLE_BAND], b[:TITLE_BAND])
    for row in range(n_rows):
        top_a, top_b = TITLE_BAND + row * (TILE + OLD_TEXT_BAND), TITLE_BAND + row * (TILE + TEXT_BAND)
        same &= np.array_equal(a[top_a:top_a + TILE + HEADLINE], b[top_b:top_b + TILE + HEADLINE])
    if not same:
        return "DIFFERENT tiles, frames, headlines or title"
    return (f"tiles, frames, headlines and title identical; text band {OLD_TEXT_BAND} -> {TEXT_BAND} px "
            "(reasons wrapped, no longer cut off)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="output directory of the earlier run")
    parser.add_argument("after", type=Path, help="output directory of the new run")
    args = parser.parse_args(argv)
    problems = compare(args.before, args.after)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("equal apart from the described changes" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
