#!/usr/bin/env python3
"""How well ``groups`` splits a mixture: simulated Class2D jobs of 2-4 structures whose truth is known.

    .venv/bin/python benchmarks/grouping.py --mixtures 30 --singles 20            # the figures in docs/grouping.md
    .venv/bin/python benchmarks/grouping.py --mixtures 60 --singles 30 --first-seed 2000 --compare   # calibration

Each mixture is a lab-like job of the simulator (``simulate/lab_classes.py``: ``random_job_spec`` drawn
until it mixes 2, 3 or 5 structures of similar size, one box for all; 5 cut to 4), handed over as a
RELION Class2D job (float averages, zero-masked, with RELION's metadata). Its kept classes are grouped
and compared with the structure each class was made of:

* **kept = the truly good classes** (the simulator's label: clean particle views that show detail): the
  grouping alone. Grouped into the true number of structures, and with ``auto``.
* **kept = the shipped model's selection** (``strictness balanced``, the job's rule): end to end; a kept
  junk class counts as a structure of its own ("junk"), so it lowers purity.

Purity of a job = the fraction of its kept classes that belong to their group's majority structure (each
group's majority, summed over groups, over all kept classes); "one group" is the purity of not splitting
at all (the majority structure's share), the baseline. Jobs of one structure (``--singles``) show how
often ``auto`` splits what it should not. ``--compare`` also scores two alternatives to the shipped
similarity on the same jobs (common lines without the shift; rotationally aligned cross-correlation of
the views, best in-plane rotation and mirror), which is how the shipped one was chosen (on seeds from
2000, apart from the benchmark's). Seeds are fixed: the same command gives the same figures. Prints
markdown tables; ``--json`` also writes every job's figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from relion_cryodiscovery.data import grouping
from relion_cryodiscovery.data.inputs import oriented_model_inputs
from cryodiscovery_dev.simulate.lab_classes import random_job_spec, simulate_job
from cryodiscovery_dev.simulate.lab_models import model_pool, point_model

REPO = Path(__file__).resolve().parents[1]

#: A RELION Class2D job's hand-over: float averages, zero outside the mask, RELION's metadata.
RELION_HANDOVER = {"style": "relion_float", "metadata": "relion", "header_pixel_size": True, "figure_scale": 1.0,
                   "mask": "zero", "stretch_percentile": 0.0, "jpeg_quality": 90, "invert": False,
                   "per_image_range": True}
MAX_STRUCTURES = 4


def job_spec(seed: int, mixture: bool):
    """The simulator's job for ``seed``: its first draw that mixes structures (``mixture``) or holds one."""
    rng = np.random.default_rng([seed, 23 if mixture else 29])
    pool = model_pool()
    while True:
        spec = random_job_spec(rng, seed, pool)
        if (len(spec.models) >= 2) == mixture:
            return replace(spec, models=spec.models[:MAX_STRUCTURES], handover=dict(RELION_HANDOVER))


def purity(truth: np.ndarray, groups: np.ndarray) -> float:
    """Kept classes in their group's majority structure, over all kept classes."""
    if not len(truth):
        return float("nan")
    return sum(np.unique(truth[groups == g], return_counts=True)[1].max() for g in np.unique(groups)) / len(truth)


def rotational_similarity(views: np.ndarray) -> np.ndarray:
    """The alternative: normalised cross-correlation of two views at the best in-plane rotation and mirror
    (polar resampling about the view's middle, all rotations at once by FFT along the angle)."""
    from scipy import fft, ndimage

    size = views.shape[-1]
    radii = np.arange(1, size // 2, dtype=float)
    angle = 2 * np.pi * np.arange(128) / 128
    middle = (size - 1) / 2
    coords = [middle + np.outer(radii, np.sin(angle)), middle + np.outer(radii, np.cos(angle))]
    polar = np.stack([ndimage.map_coordinates(view.astype(float), coords, order=1) for view in views])
    weight = radii[None, :, None]
    polar -= (polar * weight).sum((1, 2), keepdims=True) / (weight.sum() * polar.shape[2])
    polar /= np.maximum(np.sqrt((polar**2 * weight).sum((1, 2))), 1e-12)[:, None, None]
    spectra = fft.rfft(polar, axis=2)
    weighted = spectra * weight
    best = fft.irfft(np.einsum("irm,jrm->ijm", weighted, spectra.conj()), n=polar.shape[2], axis=2).max(axis=2)
    mirrored = fft.irfft(np.einsum("irm,jrm->ijm", weighted, spectra), n=polar.shape[2], axis=2).max(axis=2)
    return np.maximum(best, mirrored)


def unshifted_similarity(views: np.ndarray) -> np.ndarray:
    """The alternative: the shipped common lines without the shift along the line."""
    shift, grouping.MAX_SHIFT = grouping.MAX_SHIFT, 0
    try:
        return grouping.common_line_similarity(views)
    finally:
        grouping.MAX_SHIFT = shift


def grouped(views: np.ndarray, asked, similarity=None) -> np.ndarray:
    """Groups of ``views``: the shipped grouping, or the clustering of another similarity."""
    if similarity is None:
        return grouping.group_classes(views, asked)
    return grouping.cluster(similarity(views), asked) if len(views) > 1 else np.ones(len(views), int)


def model_selection(classes, inputs, model):
    """The classes the shipped model keeps at the default (the job's own rule, pipeline/jobs.decide)."""
    from relion_cryodiscovery.pipeline.jobs import decide
    from relion_cryodiscovery.pipeline.parameters import JobParameters
    from relion_cryodiscovery.pipeline.class_scores import ClassScores

    scores = ClassScores.unscored(classes.class_numbers, classes.particle_counts)
    usable = np.flatnonzero(inputs.usable)
    scores.set_predictions(usable, model.predict(inputs.images[usable], inputs.features[usable]))
    decide(classes, scores, inputs, model.card, JobParameters(), allow_empty=True)
    return scores.selected


def measure(seed: int, mixture: bool, model, compare: bool) -> dict:
    spec = job_spec(seed, mixture)
    classes, truth = simulate_job(spec)
    inputs, _ = oriented_model_inputs(classes)
    structure = np.array([c.model for c in truth])
    good = np.array([c.good for c in truth]) & inputs.usable
    row = {"seed": seed, "structures": {m: round(point_model(m).diameter_a) for m in spec.models},
           "classes": int(classes.n_classes)}
    kept_sets = {"good": (good, structure)}
    if model is not None:
        selected = model_selection(classes, inputs, model)
        kept_sets["model"] = (selected, np.where(good, structure, "junk"))
    for name, (kept, labels) in kept_sets.items():
        views, labels = inputs.images[kept, 0], labels[kept]
        true = len(set(labels[labels != "junk"]))
        entry = {"kept": int(kept.sum()), "true": true, "one_group": purity(labels, np.ones(len(labels), int))}
        start = time.perf_counter()
        auto = grouped(views, grouping.AUTO)
        entry["seconds"] = round(time.perf_counter() - start, 3)
        entry.update(auto_found=int(len(set(auto))), auto_purity=purity(labels, auto))
        if true >= 1:
            entry["n_purity"] = purity(labels, grouped(views, max(true, 1)))
        if compare and true >= 2:
            for method, similarity in (("unshifted", unshifted_similarity), ("rotational", rotational_similarity)):
                entry[f"{method}_n_purity"] = purity(labels, grouped(views, true, similarity))
                entry[f"{method}_auto_found"] = int(len(set(grouped(views, grouping.AUTO, similarity))))
        row[name] = entry
    return row


def _mean(rows: list[dict], kept: str, key: str) -> float:
    values = [r[kept][key] for r in rows if key in r[kept] and np.isfinite(r[kept][key])]
    return float(np.mean(values)) if values else float("nan")


def summary(rows: list[dict], kept: str, title: str, compare: bool) -> list[str]:
    """Markdown lines: mixtures (2+ structures among the kept classes) and jobs of one structure."""
    mixed = [r for r in rows if r[kept]["true"] >= 2]
    single = [r for r in rows if r[kept]["true"] == 1 and r[kept]["kept"] >= 2]
    exact = [r[kept]["auto_found"] == r[kept]["true"] for r in mixed]
    under = [r[kept]["auto_found"] < r[kept]["true"] for r in mixed]
    lines = [f"**{title}**", "",
             "| jobs | purity, true number of groups | purity, auto | purity, one group (baseline) | auto found the true number | auto found fewer |",
             "|---|---|---|---|---|---|",
             f"| {len(mixed)} mixtures of 2-4 structures | {_mean(mixed, kept, 'n_purity'):.3f} | "
             f"{_mean(mixed, kept, 'auto_purity'):.3f} | {_mean(mixed, kept, 'one_group'):.3f} | "
             f"{np.sum(exact)}/{len(mixed)} | {np.sum(under)}/{len(mixed)} |",
             f"| {len(single)} jobs whose kept classes are of one structure | - | {_mean(single, kept, 'auto_purity'):.3f} | "
             f"{_mean(single, kept, 'one_group'):.3f} | "
             f"{sum(r[kept]['auto_found'] == 1 for r in single)}/{len(single)} kept as one group | - |", ""]
    if compare and mixed:
        lines += ["| similarity | purity, true number | auto found the true number |", "|---|---|---|",
                  f"| common lines, shifted (shipped) | {_mean(mixed, kept, 'n_purity'):.3f} | {np.sum(exact)}/{len(mixed)} |"]
        for method, label in (("unshifted", "common lines, not shifted"),
                              ("rotational", "rotationally aligned cross-correlation")):
            found = sum(r[kept][f"{method}_auto_found"] == r[kept]["true"] for r in mixed)
            lines.append(f"| {label} | {_mean(mixed, kept, f'{method}_n_purity'):.3f} | {found}/{len(mixed)} |")
        lines.append("")
    return lines


def job_table(rows: list[dict], kept: str) -> list[str]:
    """Markdown: every mixture's structures (diameter in A), kept classes, true and auto groups, purity."""
    lines = ["| seed | structures (diameter, A) | kept | true | auto | purity, true number | purity, auto | one group |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e = r[kept]
        if e["true"] < 2:
            continue
        names = ", ".join(f"{m} ({d})" for m, d in r["structures"].items())
        lines.append(f"| {r['seed']} | {names} | {e['kept']} | {e['true']} | {e['auto_found']} | "
                     f"{e.get('n_purity', float('nan')):.2f} | {e['auto_purity']:.2f} | {e['one_group']:.2f} |")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mixtures", type=int, default=30, help="mixture jobs (seeds first-seed, first-seed+1, ...)")
    parser.add_argument("--singles", type=int, default=20, help="jobs of one structure (the same seeds)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--no-model", action="store_true", help="skip the shipped model's selection (end to end)")
    parser.add_argument("--compare", action="store_true", help="also the alternative similarities")
    parser.add_argument("--json", type=Path, help="write every job's figures here")
    args = parser.parse_args()

    model = None
    if not args.no_model:
        from relion_cryodiscovery.model.onnx_members import OnnxEnsemble

        model = OnnxEnsemble.load(REPO / "models" / "default")
    start = time.perf_counter()
    rows = {"mixtures": [], "singles": []}
    for kind, n in (("mixtures", args.mixtures), ("singles", args.singles)):
        for seed in range(args.first_seed, args.first_seed + n):
            rows[kind].append(measure(seed, kind == "mixtures", model, args.compare))
            print(f"{kind} seed {seed}: {json.dumps({k: v for k, v in rows[kind][-1].items() if k != 'structures'})}",
                  file=sys.stderr, flush=True)
    everything = rows["mixtures"] + rows["singles"]
    out = [f"Seeds {args.first_seed}-{args.first_seed + max(args.mixtures, args.singles) - 1}; "
           f"{time.perf_counter() - start:.0f} s in all.", ""]
    out += summary(everything, "good", "Kept = the truly good classes (the grouping alone)", args.compare)
    if model is not None:
        out += summary(everything, "model", "Kept = the shipped model's selection (end to end; kept junk is its own "
                                            "structure)", args.compare)
    out += ["Mixtures, kept = the truly good classes:", ""] + job_table(rows["mixtures"], "good")
    seconds = [r["good"]["seconds"] for r in everything if r["good"]["kept"] >= 2]
    kept = [r["good"]["kept"] for r in everything if r["good"]["kept"] >= 2]
    if seconds:
        out.append(f"Grouping time (auto): median {np.median(seconds):.2f} s for a median of {int(np.median(kept))} "
                   f"kept classes, at most {max(seconds):.2f} s ({kept[int(np.argmax(seconds))]} classes).")
    print("\n".join(out))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
