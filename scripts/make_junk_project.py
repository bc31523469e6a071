#!/usr/bin/env python3
"""A RELION 3.1 project of simulated particles with heavy junk, for the cleaning-round Schedule
(schedules/relion31_clean2d, docs/schedules.md), and the per-round report of a finished run.

    python scripts/make_junk_project.py build --out /tmp/junk_project [--n 2400 --junk 0.5 --seed 20261201]
    python scripts/make_junk_project.py report --project /tmp/junk_project

``build`` writes ``Simulated/particles.{mrcs,star}`` (RELION 3.1 format, no ground truth in the
STAR file), ``Simulated/particles_truth.csv`` (kind of every pick), ``default_pipeline.star`` and
``.gui_projectdir``; nothing is run. ``report`` walks the project's pipeline after the Schedule ran:
for each round (Class2D -> External), the particles going in and kept, the junk fraction of each,
and how many true particles a round threw away; printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import starfile

from cryodiscovery_dev.simulate.kinds import GOOD_KIND
from cryodiscovery_dev.simulate.particles import (
    ParticleConfig, simulate_particles, write_particle_set)
from cryodiscovery_dev.relion_project import init_project, particle_diameter
from cryodiscovery_dev.simulate.structures import make_structure

#: Share of each junk kind within the junk (sums to 1).
JUNK_MIX = {"empty": 0.24, "ice": 0.16, "carbon": 0.20, "aggregate": 0.16, "clipped": 0.12, "fragment": 0.12}


def build(out: Path, n: int, junk: float, seed: int) -> dict:
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty")
    init_project(out)
    structure = make_structure("symmetric", 300.0, seed, "D2")
    config = ParticleConfig(n_particles=n, box=48, pixel_size=3.0, snr=0.1, particles_per_micrograph=40,
                            junk_fractions={kind: round(junk * share, 4) for kind, share in JUNK_MIX.items()})
    particles = simulate_particles([structure], config, seed)
    write_particle_set(particles, out, config.stack_name)
    kinds = particles.truth["kind"].value_counts().to_dict()
    summary = {
        "seed": seed, "n_particles": n, "junk_fraction": round(1 - kinds.get(GOOD_KIND, 0) / n, 4),
        "kind_counts": kinds, "box": config.box, "pixel_size": config.pixel_size, "snr": config.snr,
        "structure": structure.provenance,
        "particle_diameter_A": particle_diameter(structure.provenance["max_diameter_A"], config.box,
                                                 config.pixel_size),
    }
    (out / "Simulated" / "simulation.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


def _particles(path: Path) -> pd.DataFrame:
    return starfile.read(path, always_dict=True)["particles"]


def rounds(project: Path) -> pd.DataFrame:
    """One row per cleaning round, from the pipeline and the jobs' STAR files."""
    pipeline = starfile.read(project / "default_pipeline.star", always_dict=True)
    processes = list(pipeline["pipeline_processes"]["rlnPipeLineProcessName"])
    edges = pipeline["pipeline_input_edges"]
    inputs = dict(zip(edges["rlnPipeLineEdgeProcess"], edges["rlnPipeLineEdgeFromNode"]))
    truth = pd.read_csv(project / "Simulated" / "particles_truth.csv").set_index("rlnImageName")
    is_junk = truth["kind"] != GOOD_KIND
    n_good_total = int((~is_junk).sum())
    rows = []
    for external in [p for p in processes if p.startswith("External/")]:
        data_star = inputs[external]  # the Class2D job's last data.star
        class2d = data_star.rsplit("/", 1)[0] + "/"
        before = _particles(project / data_star)["rlnImageName"]
        after = _particles(project / external / "particles.star")["rlnImageName"]
        rejected = before[~before.isin(after)]
        rows.append({
            "round": len(rows) + 1, "class2d": class2d, "external": external,
            "particles_in": len(before), "junk_in": float(is_junk[before].mean()),
            "kept": len(after), "junk_kept": float(is_junk[after].mean()),
            "rejected": len(rejected), "reject_fraction": len(rejected) / len(before),
            "good_rejected": int((~is_junk[rejected]).sum()),
            "junk_rejected": int(is_junk[rejected].sum()),
            "good_recall": float((~is_junk[after]).sum() / n_good_total),
        })
    return pd.DataFrame(rows)


def report(project: Path) -> str:
    table = rounds(project)
    lines = ["| round | Class2D | External | particles in | junk in | kept | junk kept | rejected (fraction) "
             "| of which junk / true | true particles kept (of all) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.round} | {r.class2d} | {r.external} | {r.particles_in} | {r.junk_in:.1%} "
                     f"| {r.kept} | {r.junk_kept:.1%} | {r.rejected} ({r.reject_fraction:.1%}) "
                     f"| {r.junk_rejected} / {r.good_rejected} | {r.good_recall:.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("build", help="write the simulated project")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--n", type=int, default=2400, help="number of picks")
    make.add_argument("--junk", type=float, default=0.5, help="fraction of picks that are junk (0-0.9)")
    make.add_argument("--seed", type=int, default=20261201)
    show = sub.add_parser("report", help="per-round table of a project the Schedule ran in")
    show.add_argument("--project", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "build":
        if not 0 <= args.junk <= 0.9 or args.n < 100:
            parser.error("--junk must be in 0-0.9 and --n at least 100")
        summary = build(args.out, args.n, args.junk, args.seed)
        print(json.dumps({k: summary[k] for k in ("n_particles", "junk_fraction", "kind_counts",
                                                  "particle_diameter_A")}, default=str))
    else:
        print(report(args.project))
    return 0


if __name__ == "__main__":
    sys.exit(main())
