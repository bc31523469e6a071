#!/usr/bin/env python3
"""Markdown tables from a ``run_all.sh`` work directory (results.jsonl, throughput.jsonl, machine.txt).

    python benchmarks/report.py /tmp/cryodiscovery_bench > tables.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def load(path: Path) -> list[dict]:
    """JSON lines (missing file: none)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def rss(r: dict) -> float:
    """Our peak RSS: job + model worker process (each one's peak, summed) when the run had a worker."""
    return r.get("ours_total_rss_mb", r["ours_rss_mb"])


def inference_s(steps: dict) -> float | None:
    return steps.get("inference (in the worker process)", steps.get("inference"))


def external_table(results: list[dict]) -> list[str]:
    lines = [
        "| particles | classes | data.star MB | ours s (median; runs) | ours peak RSS MB (job + worker) | ours CPU s "
        "| relion_star_handler s (median; runs) | RELION peak RSS MB | ours / RELION | awk s |",
        "|---:|---:|---:|---|---:|---:|---|---:|---:|---:|",
    ]
    for r in sorted(results, key=lambda r: (r["particles"], r["classes"])):
        relion_runs = ", ".join(f"{x:.2f}" for x in r.get("relion_wall_s_all", []))
        lines.append(
            f"| {r['particles']:,} | {r['classes']} | {r['data_star_mb']:.0f} "
            f"| **{r['ours_wall_s']:.2f}** ({', '.join(f'{x:.2f}' for x in r['ours_wall_s_all'])}) "
            f"| {rss(r):.0f} | {r['ours_cpu_s']:.2f} "
            f"| **{fmt(r.get('relion_wall_s'))}** ({relion_runs}) | {fmt(r.get('relion_rss_mb'), 0)} "
            f"| **{fmt(r.get('ratio'), 3)}** | {fmt(r.get('awk_wall_s'))} |"
        )
    return lines


STEPS = ["job start-up until the model worker started", "imports", "read job", "preprocess",
         "montage tiles (while the model worker runs)", "load model (in the worker process)",
         "inference (in the worker process)", "wait for the model worker", "write outputs", "total"]


def steps_table(results: list[dict]) -> list[str]:
    lines = [
        "| particles | classes | " + " | ".join(STEPS) + " | process wall | inference classes/s |",
        "|---:|---:|" + "---:|" * (len(STEPS) + 2),
    ]
    for r in sorted(results, key=lambda r: (r["particles"], r["classes"])):
        steps = r["ours_steps_s"]
        rate = r["classes"] / inference_s(steps) if inference_s(steps) else None
        lines.append(f"| {r['particles']:,} | {r['classes']} | "
                     + " | ".join(fmt(steps.get(s)) for s in STEPS)
                     + f" | {r['ours_wall_s']:.2f} | {fmt(rate, 0)} |")
    return lines


def fit(x: list[float], y: list[float]) -> tuple[float, float]:
    """Least-squares (intercept, slope)."""
    slope, intercept = np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), 1)
    return float(intercept), float(slope)


def growth_table(results: list[dict]) -> list[str]:
    lines = ["| series | sizes | quantity | intercept | slope |", "|---|---|---|---:|---:|"]
    by_particles = sorted((r for r in results if r["classes"] == 200), key=lambda r: r["particles"])
    if len(by_particles) >= 2:
        x = [r["particles"] / 1e6 for r in by_particles]
        sizes = ", ".join(f"{r['particles']:,}" for r in by_particles) + " particles, 200 classes"
        for key, name, unit in (("ours_wall_s", "ours wall", "s"), ("relion_wall_s", "RELION wall", "s"),
                                ("ours_total_rss_mb", "ours peak RSS (job + worker)", "MB"),
                                ("relion_rss_mb", "RELION peak RSS", "MB")):
            if all(key in r or key == "ours_total_rss_mb" for r in by_particles):
                a, b = fit(x, [rss(r) if key == "ours_total_rss_mb" else r[key] for r in by_particles])
                lines.append(f"| particles | {sizes} | {name} | {a:.2f} {unit} "
                             f"| {b:.2f} {unit} per 1M particles |")
    by_classes = sorted((r for r in results if r["particles"] == 1_000_000), key=lambda r: r["classes"])
    if len(by_classes) >= 2:
        x = [r["classes"] / 100 for r in by_classes]
        sizes = ", ".join(str(r["classes"]) for r in by_classes) + " classes, 1M particles"
        for key, name, unit in (("ours_wall_s", "ours wall", "s"), ("ours_total_rss_mb", "ours peak RSS (job + worker)", "MB")):
            a, b = fit(x, [rss(r) if key == "ours_total_rss_mb" else r[key] for r in by_classes])
            lines.append(f"| classes | {sizes} | {name} | {a:.2f} {unit} | {b:.2f} {unit} per 100 classes |")
        for step in ("preprocess", "inference", "write outputs"):
            a, b = fit(x, [(inference_s(r["ours_steps_s"]) or 0.0) if step == "inference"
                           else r["ours_steps_s"].get(step, 0.0) for r in by_classes])
            lines.append(f"| classes | {sizes} | step '{step}' | {a:.2f} s | {b:.2f} s per 100 classes |")
    return lines


def throughput_table(rows: list[dict]) -> list[str]:
    lines = ["| replicas (logical CPU devices) | global batch | train images/s | inference 2D classes/s "
             "| inference 3D classes/s (6 views each) | 3D views/s |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['replicas']} | {r['global_batch']} | {r['train_images_per_s']:.1f} "
                     f"| {r['infer_2d_classes_per_s']:.1f} | {r['infer_3d_classes_per_s']:.1f} "
                     f"| {r['infer_3d_views_per_s']:.1f} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="the run_all.sh work directory")
    args = parser.parse_args(argv)
    results = load(args.work / "results.jsonl")
    out = ["### Machine", "", "```", (args.work / "machine.txt").read_text().strip(), "```", ""]
    out += ["### External job vs relion_star_handler (same subset)", ""] + external_table(results) + [""]
    out += ["### Where the job's time goes (medians of run.out's step times, s)", ""]
    out += steps_table(results) + [""]
    out += ["### Growth (least-squares line through the rows above)", ""] + growth_table(results) + [""]
    throughput = load(args.work / "throughput.jsonl")
    if throughput:
        out += ["### Throughput (`python benchmarks/throughput.py`)", ""]
        out += throughput_table(throughput) + [""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
