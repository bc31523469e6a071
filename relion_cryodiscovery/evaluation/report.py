"""Run a whole evaluation: metrics, image comparisons, FSC, plots, metrics.json/.txt and HTML.

:func:`evaluate` is the one entry point used by ``relion_cryodiscovery evaluate``; each step
that lacks its inputs (no scores, no class images, no particle stacks, no 3D angles, no
``relion_cryodiscovery``) is skipped with a note instead of failing.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relion_cryodiscovery.data.masks import soft_mask
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.evaluation import fsc as fsc_mod
from relion_cryodiscovery.evaluation import image_io, image_metrics, plots
from relion_cryodiscovery.pipeline.montage import class_montage
from relion_cryodiscovery.evaluation.labels import (
    CLASS_AVERAGES,
    PARTICLES,
    Predictions,
    Truth,
    align,
    read_csv_with_header,
    read_particle_truth,
    read_predictions,
    read_truth,
)
from relion_cryodiscovery.relion.mrc import read_mrc
from relion_cryodiscovery.relion.star import find_table, write_table
from relion_cryodiscovery.evaluation.metrics import classification_metrics

#: Keys of ``metrics.json["classification"]`` always present (values may be null).
CLASSIFICATION_KEYS = (
    "n_classes", "n_good", "n_selected", "accuracy", "precision", "recall", "false_negative_rate",
    "false_positive_rate", "f1", "roc_auc", "pr_auc", "ece", "good_particles_kept", "junk_particles_removed",
    "confusion_matrix", "notes",
)


@dataclass
class EvaluationOptions:
    """Optional inputs and switches of an evaluation."""

    particles_truth: Path | None = None
    reference: Path | None = None
    class_images: Path | None = None
    project_dir: Path | None = None
    reconstruct: str = "auto"  # auto | always | never
    sym: str = "C1"
    mask_diameter: float | None = None
    max_particles: int = 2000
    html: bool = True


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _classification(pred: Predictions, labels: np.ndarray) -> dict[str, Any]:
    """Per-class metrics with every key of CLASSIFICATION_KEYS present."""
    particles = pred.particles if np.isfinite(pred.particles).all() else None
    rep = classification_metrics(labels, pred.selected, pred.scores if pred.has_scores else None, particles)
    if not pred.has_scores:
        rep.notes.append("predictions carry no scores: ROC-AUC, PR-AUC and ECE skipped")
    if particles is None:
        rep.notes.append("particle counts unknown: particle-weighted fractions skipped")
    out = rep.to_dict()
    for key in CLASSIFICATION_KEYS:
        out.setdefault(key, None)
    return out


def _particle_truth(pred: Predictions, path: Path) -> dict[str, Any]:
    """Particle-level metrics: a particle is kept when its class is selected (or it is in particles.star)."""
    table = read_particle_truth(path)
    if "class_number" in table.columns:
        kept = np.isin(table["class_number"].to_numpy(), pred.class_numbers[pred.selected == 1])
    else:
        star = (pred.job_dir or Path(".")) / PARTICLES
        if not star.is_file():
            raise CryoDiscoveryError(path, f"has no class_number column and {star} does not exist")
        particles, _ = image_io.read_particles(star)
        kept = table["image_name"].isin(set(particles["rlnImageName"].astype(str).str.strip())).to_numpy()
    rep = classification_metrics(table["label"].to_numpy(), kept.astype(int))
    out = rep.to_dict()
    out["good_particles_kept"] = out.get("recall")
    tn, fp = out["confusion_matrix"]["tn"], out["confusion_matrix"]["fp"]
    out["junk_particles_removed"] = tn / (tn + fp) if tn + fp else None
    out["source"] = str(path)
    return out


Images = dict[int, np.ndarray]


def _kept_images(pred: Predictions, truth: Truth, opts: EvaluationOptions,
                 notes: list[str]) -> tuple[Images, Images, Images]:
    """(all known class images, kept by prediction, kept by truth); empty dicts when unavailable."""
    everything: dict[int, np.ndarray] = {}
    pred_kept: dict[int, np.ndarray] = {}
    truth_kept: dict[int, np.ndarray] = {}
    if opts.class_images is not None:
        everything = image_io.load_all_class_images(opts.class_images, opts.project_dir)
    sources = [(pred.job_dir, pred_kept, "prediction"), (truth.select_dir, truth_kept, "truth")]
    for directory, target, name in sources:
        star = directory / CLASS_AVERAGES if directory is not None else None
        if star is not None and star.is_file():
            try:
                target.update(image_io.load_class_images(star, opts.project_dir))
            except CryoDiscoveryError as exc:
                notes.append(f"{name} class averages not loaded: {exc.one_line()}")
    for k, img in list(pred_kept.items()) + list(truth_kept.items()):
        everything.setdefault(k, img)
    if everything:
        selected = set(pred.class_numbers[pred.selected == 1].tolist())
        good = set(truth.class_numbers[truth.labels == 1].tolist())
        if not pred_kept:
            pred_kept.update({k: v for k, v in everything.items() if k in selected})
        if not truth_kept:
            truth_kept.update({k: v for k, v in everything.items() if k in good})
    return everything, pred_kept, truth_kept


def _particle_files(pred: Predictions, truth: Truth) -> tuple[Path | None, Path | None]:
    """particles.star of the prediction job and of the truth Select job, when both exist."""
    p = pred.job_dir / PARTICLES if pred.job_dir is not None else None
    t = truth.select_dir / PARTICLES if truth.select_dir is not None else None
    return (p if p is not None and p.is_file() else None), (t if t is not None and t.is_file() else None)


def _particle_averages(files: tuple[Path, Path], opts: EvaluationOptions, out_dir: Path) -> dict[str, Any]:
    """MSE/SSIM between in-plane aligned averages of predicted- and truth-selected particles."""
    averages: dict[str, np.ndarray] = {}
    result: dict[str, Any] = {}
    for name, star in zip(("prediction", "truth"), files):
        particles, optics = image_io.read_particles(star)
        angpix = image_io.particle_pixel_size(particles, optics) or 1.0
        cache = image_io.StackCache(star, opts.project_dir)
        averages[name], used = image_metrics.aligned_average(particles, cache.read, angpix,
                                                             opts.max_particles)
        result[f"n_{name}"] = int(len(particles))
        result[f"n_{name}_averaged"] = used
    result.update(image_metrics.compare(averages["prediction"], averages["truth"]))
    plots.image_pair(averages["prediction"], averages["truth"], out_dir / "particle_averages.png",
                     ("predicted selection", "truth selection"))
    return result


def _classes_are_2d(job_dir: Path) -> bool:
    """True when the job's class_averages.star points into a 2D stack (``k@...mrcs``)."""
    star = job_dir / CLASS_AVERAGES
    if not star.is_file():
        return False
    try:
        refs = find_table(star, None, ("rlnReferenceImage",))["rlnReferenceImage"]
    except CryoDiscoveryError:
        return False
    return bool(len(refs)) and "@" in str(refs.iloc[0])


#: Per-particle truth columns of the simulator (``cryodiscovery_dev.simulate.kinds``, read from its truth CSV;
#: nothing here imports the developer package): true orientation and shift.
TRUE_ALIGNMENT = ("rot", "tilt", "psi", "shift_x_a", "shift_y_a")


def _has_true_alignment(truth_csv: Path | None) -> bool:
    return truth_csv is not None and set(TRUE_ALIGNMENT) <= set(read_csv_with_header(Path(truth_csv))[0].columns)


def with_true_alignment(star: Path, truth_csv: Path, out_star: Path) -> Path:
    """A copy of a particles STAR file carrying the simulation's true 3D alignment.

    The simulator moves a particle by ``+shift`` from the box centre; RELION's origin is the
    opposite: with ``rlnOriginXAngst = -shift_x`` the true-angle reconstruction of the bundled
    example's good particles reaches 7.3 A at FSC 0.143 against the true map (Nyquist 6 A),
    with ``+shift`` only 19.6 A. Particles without a true orientation (junk) get zeros.
    """
    particles, optics = image_io.read_particles(star)
    truth = read_csv_with_header(Path(truth_csv))[0]
    key = "rlnimagename" if "rlnimagename" in truth.columns else "image_name"
    alignment = truth.set_index(key)[list(TRUE_ALIGNMENT)].reindex(particles["rlnImageName"]).fillna(0.0)
    particles = particles.copy()
    particles["rlnAngleRot"] = alignment["rot"].to_numpy()
    particles["rlnAngleTilt"] = alignment["tilt"].to_numpy()
    particles["rlnAnglePsi"] = alignment["psi"].to_numpy()
    particles["rlnOriginXAngst"] = -alignment["shift_x_a"].to_numpy()
    particles["rlnOriginYAngst"] = -alignment["shift_y_a"].to_numpy()
    out_star.parent.mkdir(parents=True, exist_ok=True)
    with out_star.open("w") as handle:
        if optics is not None:
            write_table(handle, "optics", optics)
        write_table(handle, "particles", particles)
    return out_star


def _fsc_step(files: tuple[Path | None, Path | None], opts: EvaluationOptions,
              out_dir: Path, notes: list[str]) -> dict[str, Any]:
    """Reconstruct both selections with relion_reconstruct and compare (each other, reference)."""
    if opts.reconstruct == "never":
        return {"skipped": "reconstruction switched off (--reconstruct never)"}
    if files[0] is None or files[1] is None:
        return {"skipped": "particles.star of the prediction and of the truth Select job are both needed"}
    particles, optics = image_io.read_particles(files[0])
    from_2d = _classes_are_2d(files[0].parent)
    no_3d_alignment = from_2d or not fsc_mod.has_3d_angles(list(particles.columns))
    if no_3d_alignment and _has_true_alignment(opts.particles_truth):
        files = tuple(with_true_alignment(star, Path(opts.particles_truth),
                                          out_dir / "reconstructions" / f"{name}_true_alignment.star")
                      for name, star in zip(("prediction", "truth"), files))
        particles, optics = image_io.read_particles(files[0])
        notes.append("FSC: particles reconstructed with the simulation's true angles and shifts "
                     f"(from {opts.particles_truth}), since 2D classification has no 3D alignment")
    elif opts.reconstruct == "auto" and from_2d:
        return {"skipped": "2D classification: particle angles are not 3D alignments, no reconstruction "
                           "(use --reconstruct always to force)"}
    if not fsc_mod.has_3d_angles(list(particles.columns)):
        return {"skipped": "particles have no 3D angles (rlnAngleRot/rlnAngleTilt), as after Class2D: "
                           "no reconstruction"}
    if not fsc_mod.relion_reconstruct_available():
        return {"skipped": "relion_reconstruct is not on PATH"}
    angpix = image_io.particle_pixel_size(particles, optics)
    project = image_io.find_base(files[0], particles["rlnImageName"].iloc[0], opts.project_dir)
    maps: dict[str, np.ndarray] = {}
    for name, star in zip(("prediction", "truth"), files):
        out_map = out_dir / "reconstructions" / f"{name}.mrc"
        fsc_mod.reconstruct_with_relion(star, out_map, angpix, sym=opts.sym, cwd=project)
        maps[name] = read_mrc(out_map)[0]
    curves: dict[str, fsc_mod.FSCCurve] = {}
    mask = None
    n = maps["prediction"].shape[0]
    if opts.mask_diameter and angpix:
        mask = soft_mask(maps["prediction"].shape, opts.mask_diameter / 2 / angpix, 3.0)
    curves["prediction vs truth"] = fsc_mod.fsc(maps["prediction"], maps["truth"], angpix or 1.0, mask)
    if opts.reference is not None:
        ref, ref_angpix = read_mrc(opts.reference)
        if ref.shape != maps["prediction"].shape:
            notes.append(f"reference {opts.reference} has shape {ref.shape}, reconstructions {(n,) * 3}: "
                         "no FSC against it")
        else:
            for name in ("prediction", "truth"):
                size = angpix or ref_angpix or 1.0
                curves[f"{name} vs reference"] = fsc_mod.fsc(maps[name], ref, size, mask)
    plots.plot_fsc(curves, out_dir / "fsc.png")
    return {name: curve.to_dict() for name, curve in curves.items()}


def evaluate(pred_path: str | Path, truth_path: str | Path, out_dir: str | Path,
             options: EvaluationOptions | None = None) -> dict[str, Any]:
    """Evaluate a selection against ground truth; writes metrics.json/.txt and plots into ``out_dir``."""
    opts = options or EvaluationOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pred = read_predictions(pred_path)
    truth = read_truth(truth_path)
    labels, classes, notes = align(pred, truth)
    result: dict[str, Any] = {
        "inputs": {"predictions": str(pred.source), "truth": str(truth.source),
                   "truth_complete": truth.complete, "provenance": pred.provenance},
        "classification": _classification(pred, labels),
        "per_class": [
            {"class_number": int(c), "truth": int(t), "selected": int(s), "score": float(sc),
             "particles": float(n), "reason": r}
            for c, t, s, sc, n, r in zip(classes, labels, pred.selected, pred.scores, pred.particles,
                                         pred.reasons)
        ],
    }
    made: list[str] = []
    if pred.has_scores:
        made.append(plots.plot_roc(labels, pred.scores, out / "roc.png").name)
        made.append(plots.plot_score_histogram(labels, pred.scores, out / "score_histogram.png").name)
        made.append(plots.plot_reliability(labels, pred.scores, out / "calibration.png").name)
    if opts.particles_truth is not None:
        result["particles_truth"] = _particle_truth(pred, Path(opts.particles_truth))
    everything, pred_kept, truth_kept = _kept_images(pred, truth, opts, notes)
    if pred_kept or truth_kept:
        result["class_images"] = image_metrics.compare_class_selections(pred_kept, truth_kept)
    else:
        result["class_images"] = {"skipped": "no class images found (give --class-images or Select job dirs)"}
    if everything:
        made.append(_outcome_montage(everything, pred, labels, out / "outcome_montage.png").name)
    files = _particle_files(pred, truth)
    if files[0] is not None and files[1] is not None:
        try:
            result["particle_averages"] = _particle_averages((files[0], files[1]), opts, out)
            made.append("particle_averages.png")
        except CryoDiscoveryError as exc:
            result["particle_averages"] = {"skipped": exc.one_line()}
    else:
        result["particle_averages"] = {"skipped": "particles.star of the prediction and of the truth Select "
                                                  "job are both needed"}
    result["fsc"] = _fsc_step(files, opts, out, notes)
    if (out / "fsc.png").is_file() and "skipped" not in result["fsc"]:
        made.append("fsc.png")
    result["notes"] = notes
    result["plots"] = made
    result = _clean(result)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    text = format_table(result)
    (out / "metrics.txt").write_text(text + "\n")
    if opts.html:
        write_html(result, text, out, out / "report.html")
    return result


def _outcome_montage(images: Images, pred: Predictions, labels: np.ndarray, out_png: Path) -> Path:
    """Montage of the classes with images, each tagged TP/FP/FN/TN against the truth."""
    index = {int(c): i for i, c in enumerate(pred.class_numbers)}
    ks = [k for k in sorted(images) if k in index]
    shapes = {images[k].shape for k in ks}
    stack = np.stack([images[k] for k in ks]) if len(shapes) == 1 else np.full((len(ks), 8, 8), np.nan)
    tags = {(1, 1): "TP: good, kept", (0, 1): "FP: junk, kept",
            (1, 0): "FN: good, lost", (0, 0): "TN: junk, dropped"}
    rows = [index[k] for k in ks]
    return class_montage(stack, ks, pred.scores[rows], pred.selected[rows],
                               [tags[(int(labels[i]), int(pred.selected[i]))] for i in rows], out_png,
                               title="Prediction against truth")


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def format_table(result: dict[str, Any]) -> str:
    """Readable plain-text summary of ``metrics.json``."""
    c = result["classification"]
    lines = ["CryoDiscovery evaluation",
             f"predictions: {result['inputs']['predictions']}",
             f"truth:       {result['inputs']['truth']}", ""]
    rows = [("classes", c["n_classes"]), ("good (truth)", c["n_good"]), ("selected", c["n_selected"]),
            ("accuracy", c["accuracy"]), ("precision", c["precision"]), ("recall", c["recall"]),
            ("false-negative rate", c["false_negative_rate"]),
            ("false-positive rate", c["false_positive_rate"]),
            ("F1", c["f1"]), ("ROC-AUC", c["roc_auc"]), ("PR-AUC (avg precision)", c["pr_auc"]),
            ("ECE (10 bins)", c["ece"]), ("good particles kept", c["good_particles_kept"]),
            ("junk particles removed", c["junk_particles_removed"])]
    lines += [f"  {name:<24}{_fmt(value):>10}" for name, value in rows]
    cm = c["confusion_matrix"]
    lines += ["", f"  {'confusion':<24}{'kept':>10}{'rejected':>10}",
              f"  {'truth good':<24}{cm['tp']:>10}{cm['fn']:>10}",
              f"  {'truth junk':<24}{cm['fp']:>10}{cm['tn']:>10}"]
    pt = result.get("particles_truth")
    if pt:
        lines += ["", "particle-level truth:"] + [
            f"  {name:<24}{_fmt(pt.get(key)):>10}" for name, key in
            (("accuracy", "accuracy"), ("good particles kept", "good_particles_kept"),
             ("junk particles removed", "junk_particles_removed"))]
    for section, title in (("class_images", "class averages kept (MSE / SSIM)"),
                           ("particle_averages", "aligned particle averages (MSE / SSIM)")):
        block = result.get(section) or {}
        lines.append("")
        if "skipped" in block or "note" in block:
            lines.append(f"{title}: skipped, {block.get('skipped') or block.get('note')}")
        elif section == "class_images" and "mean_of_kept" in block:
            m = block["mean_of_kept"]
            lines.append(f"{title}: mean of kept {_fmt(m['mse'])} / {_fmt(m['ssim'])}")
        elif "mse" in block:
            lines.append(f"{title}: {_fmt(block['mse'])} / {_fmt(block['ssim'])}")
    f = result.get("fsc") or {}
    lines.append("")
    if "skipped" in f:
        lines.append(f"FSC: skipped, {f['skipped']}")
    for name, curve in f.items():
        if isinstance(curve, dict):
            lines.append(f"FSC {name}: {_fmt(curve['resolution_0143'])} A at 0.143, "
                         f"{_fmt(curve['resolution_05'])} A at 0.5")
    notes = list(c.get("notes") or []) + list(result.get("notes") or [])
    if notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in notes]
    return "\n".join(lines)


def write_html(result: dict[str, Any], table: str, out_dir: Path, out_html: Path) -> Path:
    """One self-contained HTML page: the metrics table and every PNG inlined as base64."""
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>CryoDiscovery evaluation</title>",
             "<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}"
             "img{max-width:100%;margin:0.5em 0}</style></head><body>",
             "<h1>CryoDiscovery evaluation</h1>", f"<pre>{html.escape(table)}</pre>"]
    for name in result.get("plots", []):
        data = base64.b64encode((out_dir / name).read_bytes()).decode("ascii")
        label = html.escape(name)
        parts.append(f"<h2>{label}</h2><img alt='{label}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    out_html.write_text("\n".join(parts))
    return out_html
