#!/usr/bin/env python3
"""Render ``docs/model_card.md`` from a model's ``model_card.json`` (written by scripts/evaluate_model.py).

    python scripts/render_model_card.py --model models/default --o docs/model_card.md
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _f(value, digits: int = 3) -> str:
    if value is None or value == "nan":
        return "-"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def domain_cell(d: dict) -> str:
    """One job's out-of-domain check: quiet/flagged, each signal's value / threshold, the d1-d2 split."""
    if not d:
        return "-"
    signals = [f"{name} {v['value']:.3g} / {v['threshold']:.3g}" for name, v in d.get("signals", {}).items()]
    signals.append(f"features {d['distance']:.2f} / {d['distance_threshold']:.2f}")
    return (("**flagged**" if d["out_of_domain"] else "quiet") + f" ({'; '.join(signals)}; d1-d2 split {d['disagreement']:.2f})")


def real_table(rows: list[dict]) -> list[str]:
    out = ["| set | what | classes | good | kept | false neg. | FNR | junk removed at the default | lenient: lost / junk removed | strict: lost / junk removed | ROC-AUC | AUC: high-freq. power | AUC: class distribution | lowest score | d3 decided | contrast | domain check |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        dom = domain_cell(r.get("domain") or {})
        ops = r.get("operating_points", {})
        at = {k: (f"{v['lost']} / {_f(v['junk_removed'], 2)}" if v else "-") for k, v in ops.items()}
        contrast = "inverted, scored flipped" if r.get("contrast_inverted") else "normal"
        out.append(f"| `{r['set']}` | {r['what']} | {r['classes']} | {r['good']} | {r['kept']} | {r['false_negatives']} | "
                   f"{_f(r['fnr'])} | {_f(r.get('junk_removed'), 2)} | {at.get('lenient', '-')} | {at.get('strict', '-')} | {_f(r['auc'])} | {_f(r['auc_hf_baseline'])} | {_f(r['auc_distribution_baseline'])} | "
                   f"{_f(r['score_min'])} | {r['d3_decided']} | {contrast} | {dom} |")
    return out


def looks(point: dict) -> list[str]:
    """How unlike the best classes a class must look for the bar to drop it, in words."""
    words = []
    if point.get("relative_detail") is not None:
        words.append(f"only classes coarser than them by {point['relative_detail']:g} (log10 k D)")
    if point.get("relative_centre") is not None:
        also = (f" and coarser by {point['centre_detail']:g}" if point.get("centre_detail") is not None else "")
        words.append(("or" if words else "only classes") + f" emptier at the centre by {point['relative_centre']:g} (ring_1)"
                     + also)
    if point.get("blob_detail") is not None and point.get("blob_centre") is not None:
        words.append(("or" if words else "only classes") + f" both coarser by {point['blob_detail']:g} and denser at the "
                     f"centre by {point['blob_centre']:g} (a blob)")
    return words


def decision_table(card: dict) -> list[str]:
    """The strictness operating points and what each reaches on the simulated and relion_refine hold-outs."""
    decision = card.get("extra", {}).get("decision", {})
    ev = card.get("extra", {}).get("evaluation", {})
    out = ["| strictness | min_score | job-relative bar | weak job's lowered bar | lab-like hold-out: FNR / junk removed "
           "| lab-like hold-out, job-relative labels: FNR / junk removed | relion_refine hold-out: FNR / junk removed | rule |",
           "|---|---:|---|---|---:|---:|---:|---|"]
    for level in ("lenient", "balanced", "strict"):
        point = decision.get(level)
        if not point:
            continue
        bar = "-" if point.get("relative_gap") is None else (
            f"{point['relative_gap']:g} logits below the best classes, in jobs whose best score >= {point.get('relative_from', 0):g}"
            + "".join(f"; {words}" for words in looks(point)))
        lowered = "-" if point.get("lower_gap") is None else (
            f"{point['lower_gap']:g} logits below the best classes, in jobs whose best score in "
            f"[{point.get('lower_from'):g}, {point.get('lower_below'):g}); only classes that look like them")
        cells = []
        for key, points in (("lab_holdout", "operating_points"), ("lab_holdout", "operating_points_relative"),
                            ("relion_holdout", "operating_points")):
            m = ev.get(key, {}).get(points, {}).get(level)
            cells.append(f"{_f(m['fnr'])} / {_f(m['junk_removed'])}" if m else "-")
        name = f"**{level}** (default)" if level == decision.get("default") else level
        out.append(f"| {name} | {_f(point['min_score'])} | {bar} | {lowered} | {' | '.join(cells)} | {point.get('rule', '')} |")
    return out


def probe_table(probe: dict | None, lab: dict | None) -> list[str]:
    """The early-round and junk-only probes (``scripts/evaluate_model.py: early_round_probe``) at each strictness."""
    if not probe:
        return []
    levels = list(probe["operating_points"])
    junk = probe["junk_only"]
    out = ["### Early rounds and jobs of only junk (simulated probes)", "",
           f"{probe['jobs']} simulated first-round jobs of held-out structures ({probe['classes']} classes: 10-40 per job, "
           "150-2,500 particles each, B 150-400 A^2; `cryodiscovery_dev.probes.early_round_spec`), judged against the "
           f"simulator's labels ({probe['good']} good) and against job-relative labels ({probe['good_relative']} good: "
           "in a job without a good class, the particle views within 1.5x of its sharpest view; "
           "`cryodiscovery_dev.simulate.truth.job_relative_labels`). Junk-only jobs: each job's classes of junk kinds alone (no particle view of any purity) "
           "(a job of only junk should keep nothing).", "",
           "| probe | " + " | ".join(levels) + " |", "|---|" + "---:|" * len(levels),
           "| early rounds, simulator's labels: FNR / junk removed | "
           + " | ".join(f"{_f(probe['operating_points'][k]['fnr'])} / {_f(probe['operating_points'][k]['junk_removed'])}" for k in levels) + " |",
           "| early rounds, job-relative labels: FNR / junk removed | "
           + " | ".join(f"{_f(probe['operating_points_relative'][k]['fnr'])} / {_f(probe['operating_points_relative'][k]['junk_removed'])}" for k in levels) + " |",
           f"| junk-only jobs from the early rounds ({junk['jobs']}): jobs keeping any / classes kept | "
           + " | ".join(f"{_f(junk[k]['jobs_keeping_any'])} / {_f(junk[k]['classes_kept'])}" for k in levels) + " |"]
    if lab and lab.get("junk_only"):
        j = lab["junk_only"]
        out.append(f"| junk-only jobs from the lab-like hold-out ({j['jobs']}): jobs keeping any / classes kept | "
                   + " | ".join(f"{_f(j[k]['jobs_keeping_any'])} / {_f(j[k]['classes_kept'])}" for k in levels) + " |")
    return out + [""]


def blob_table(rows: list[dict]) -> list[str]:
    """The semi-real blob probe (``scripts/evaluate_model.py: blob_probe``): good lost / blobs removed per strictness."""
    if not rows:
        return []
    levels = list(rows[0]["operating_points"])
    out = ["### Blob probe (semi-real: a set's sharp classes beside blurred copies of themselves)", "",
           "Each positive-only cryoSPARC set's classes (good) with Gaussian-blurred copies of themselves (junk, sigma "
           "= box / 60, 40, 25), scored as a bare stack: the featureless low-resolution blobs a person rejects beside "
           "the sharp classes of the same job. Good lost / blobs removed at each strictness.", "",
           "| set | blur | classes | blob scores (min / median / max) | " + " | ".join(levels) + " |",
           "|---|---|---:|---|" + "---:|" * len(levels)]
    for r in rows:
        ops = r["operating_points"]
        out.append(f"| `{r['set']}` | {r['blur']} | {r['classes']} | {' / '.join(f'{x:.2f}' for x in r['blob_scores'])} | "
                   + " | ".join(f"{ops[k]['lost']} / {_f(ops[k]['junk_removed'], 2)}" for k in levels) + " |")
    mean = {k: float(np.mean([r["operating_points"][k]["junk_removed"] for r in rows])) for k in levels}
    out.append("| **mean** | | | | " + " | ".join(f"{mean[k]:.2f}" for k in levels) + " |")
    return out + [""]


def _loso_sentence(name: str, loso: dict) -> str:
    pooled = loso["pooled"]
    return (f"{name}: **{_f(pooled['accuracy'], 2)}** (" + ", ".join(
        f"`{s}` {_f(m['accuracy'], 2)}" for s, m in loso["per_set"].items()) + ")")


def reasons_section(reasons: dict | None) -> list[str]:
    """Junk kinds and grades (issue #23): the real classes labelled by eye first (held out: a reason model
    trained on them is shown by its leave-one-real-set-out figures), then the simulated hold-out, then the
    grades against the expert's."""
    if not reasons:
        return ["## 3b. Junk kinds and grades", "", "This model has no reason model (`scripts/train_reason_model.py`).", ""]
    real, sim = reasons["real_by_eye"], reasons["simulated_holdout"]
    training = reasons.get("training") or {}
    loso, tried = training.get("real_leave_one_set_out"), training.get("real_training_tried") or []
    in_sample = bool(real.get("trained_on_these_classes"))
    pooled = real["pooled"]
    headline = loso["pooled"] if in_sample and loso else pooled
    baseline = pooled["baseline_most_common"]
    n_sets = len(real.get("per_set") or {}) or "the"
    out = ["## 3b. Junk kinds and grades", "",
           "The reason model names each rejected class's junk kind (`model/reasons.py`). **Real classes first:** "
           f"{pooled['classes']} rejected classes of {n_sets} real sets labelled by eye (docs/real_sets.md, "
           "\"Junk kinds by eye\"; `unsure` and `mixed` left out)."]
    if in_sample and loso:
        out[-1] += (" This reason model was trained on them too, so it is measured **leave-one-real-set-out**: each "
                    f"set is named by the same recipe trained without that set's classes, and the {n_sets} held-out "
                    f"sets are pooled. Held-out agreement **{_f(headline['accuracy'], 2)}**, against "
                    f"{_f(baseline['accuracy'], 2)} for always answering the most common kind (`{baseline['reason']}`); "
                    f"on the classes it was trained on (not a measurement): {_f(pooled['accuracy'], 2)}.")
    elif in_sample:
        out[-1] += (" This reason model was trained on them and no held-out measurement is recorded: its agreement "
                    f"{_f(pooled['accuracy'], 2)} is in-sample, not a measurement.")
    else:
        out[-1] += (" The reason model has not been trained on any real class, so all of them are held out. "
                    f"Agreement **{_f(pooled['accuracy'], 2)}**, against {_f(baseline['accuracy'], 2)} for always "
                    f"answering the most common kind (`{baseline['reason']}`).")
    split = real.get("split")
    if split and not in_sample:
        design, check = split["design"], split["check"]
        out[-1] += (f" Its simulated training junk was designed by looking at {len(design['sets'])} of these sets ("
                    + ", ".join(f"`{n}`" for n in design["sets"]) + f"; {design['classes']} classes): there "
                    f"{_f(design['accuracy'], 2)} (always `noise` {_f(design['always_noise'], 2)}). **On the other "
                    f"{len(check['sets'])} sets**, held apart until the model was fixed ({check['classes']} classes): "
                    f"**{_f(check['accuracy'], 2)}** (always `noise` {_f(check['always_noise'], 2)}); per set: " + ", ".join(
                        f"`{n}` {_f(a, 2)}" for n, a in check["per_set"].items()) + ".")
    if tried:
        out[-1] += (" Training on the labelled real classes was measured the same way, leave-one-real-set-out, and "
                    "not shipped because it did not beat that baseline: " + "; ".join(
                        _loso_sentence(t["recipe"], t["loso"]) for t in tried) + ".")
    kind_source = "real, held out" if in_sample and loso else "real"
    out += ["", f"| kind | real: labelled | {kind_source}: called | {kind_source}: recall | {kind_source}: precision | "
                "simulated: classes | simulated: recall | simulated: precision |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, m in headline["per_reason"].items():
        t = sim["per_reason"][kind]
        out.append(f"| {kind} | {m['support']} | {m['predicted']} | {_f(m['recall'], 2)} | {_f(m['precision'], 2)} | "
                   f"{t['support']} | {_f(t['recall'], 2)} | {_f(t['precision'], 2)} |")
    confident, sim_confident = pooled.get("confident"), sim.get("confident")
    if confident and sim_confident:
        rule = training.get("min_probability_rule") or "chosen on simulated validation junk: >= 95% right there"
        sentence = (f"The outputs name a kind only when its probability is at least {confident['min_probability']:g} "
                    f"({rule}) and say `unclear` otherwise.")
        threshold = training.get("real_threshold")
        if threshold and not in_sample:
            held = threshold["held_out"]
            sets_used = len(held.get("bar_per_set", {})) or 5
            sentence += (f" Measured honestly, with the bar picked the same way on all but one of {sets_used} real "
                         f"sets and applied to that one: {_f(held['named'], 2)} of the real classes named, "
                         f"{_f(held['correct_when_named'], 2)} of those right"
                         + (f" ({held['classes']} classes)" if held.get("classes") else "") + ". At the shipped "
                         f"bar, on all {n_sets} sets: real {_f(confident['named'], 2)} named, "
                         f"{_f(confident['correct_when_named'], 2)} right")
        else:
            sentence += (f" Real{' (in-sample)' if in_sample else ''}: {_f(confident['named'], 2)} of the classes named, "
                         f"{_f(confident['correct_when_named'], 2)} of those right")
        sentence += (f"; simulated hold-out: {_f(sim_confident['named'], 2)} named, "
                     f"{_f(sim_confident['correct_when_named'], 2)} right.")
        honest = split["check"] if split and not in_sample else None
        if honest and honest["accuracy"] >= honest["always_noise"] + 0.05:
            sentence += (f" **On the sets its design did not look at, its most likely kind agrees with the eye more "
                         f"often than always answering `noise` ({_f(honest['accuracy'], 2)} against "
                         f"{_f(honest['always_noise'], 2)}), but not by much:** {training.get('design_note') or ''} "
                         "Read a named kind as a hint, not a diagnosis.")
        elif headline["accuracy"] < baseline["accuracy"] + 0.05:
            sentence += (" **The reason model is right on simulated junk and not on real junk: its most likely kind "
                         f"agrees with the eye no better than always answering `{baseline['reason']}`** (real streaks "
                         "and speckle called carbon/edge, real aggregates low resolution). A defect, still open: read a "
                         "named kind as a hint, not a diagnosis.")
        out += ["", sentence]
    per_set = loso["per_set"] if in_sample and loso else real["per_set"]
    out += ["", f"Per real set{' (held out)' if in_sample and loso else ''}: " + "; ".join(
        f"`{name}` {m['classes']} classes, agreement {_f(m['accuracy'], 2)}" for name, m in per_set.items()) + ".",
            f"Simulated hold-out (the junk of the 80 held-out jobs): {sim['classes']} classes, agreement "
            f"{_f(sim['accuracy'], 2)}.", ""]
    grades = reasons.get("magellon_grades")
    if grades:
        out += [f"**Grades against an expert's.** Only one real set is graded A-F by a person, the Magellon set, and "
                f"it has **{grades['classes']} classes**. Spearman's rho between our grade and the expert's: "
                f"**{_f(grades['spearman'], 2)}** (the calibrated score's rank alone: {_f(grades['spearman_of_score'], 2)}). "
                f"Ours: {' '.join(grades['ours'])}; the expert's: {' '.join(grades['expert'])}.", ""]
    return out


def sim_table(named: list[tuple[str, dict]]) -> list[str]:
    out = ["| hold-out | jobs | classes | good | ROC-AUC | accuracy | FNR | FPR | ECE | AUC: high-freq. power | AUC: class distribution (classes with it) | jobs flagged out of domain |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, m in named:
        out.append(f"| {name} | {m.get('jobs')} | {m['classes']} | {m['good']} | {_f(m['auc'])} | {_f(m['accuracy'])} | "
                   f"{_f(m['fnr'])} | {_f(m['fpr'])} | {_f(m['ece'])} | {_f(m['auc_hf_baseline'])} | "
                   f"{_f(m['auc_distribution_baseline'])} ({m.get('classes_with_distribution')}) | {m.get('jobs_flagged_out_of_domain')} |")
    return out


def domain_section(domain: dict) -> list[str]:
    """What flags a job (``model/domain.py``), with the thresholds of this model's reference."""
    views = domain.get("views")
    feature = (f"the feature distance (largest robust z of the job's median pixel features against the training jobs) "
               f"exceeds {_f(domain.get('distance_threshold'))} ({domain.get('margin')} x the largest of "
               f"{domain.get('validation_jobs')} validation jobs)")
    if not views:
        return [f"A job is flagged when {feature} (`model/domain.py`)."]
    job = views["job_thresholds"]
    return [f"A job is flagged when any signal is over its threshold, or no class image is usable (`model/domain.py`, "
            f"reference `{views['file']}`, sha256 in the card): **reconstruction** (median fraction of a view's energy "
            f"the first {views['components']} principal components of {views['basis_views']} training views do not "
            f"reproduce) > {_f(job['reconstruction'])}; **solvent** (log10 energy and detail outside the particle circle "
            f"vs its core) > {_f(job['solvent'])}; {feature}. Thresholds: {views['threshold_rule']}. "
            "Detection rates on non-class-average inputs and false alarms: `docs/model_card_notes.md`, section 6b."]


def render(card: dict, notes: str = "") -> str:
    extra = card.get("extra", {})
    ev = extra.get("evaluation", {})
    corpus = extra.get("corpus", {})
    lab = corpus.get("lab", {})
    domain = extra.get("domain", {})
    lines = [
        f"# Model card: CryoDiscovery default model {card['model_version']}",
        "",
        f"Created {card.get('created')}; format {card.get('format_version')}; written by `scripts/evaluate_model.py` "
        "and `scripts/render_model_card.py` from `models/default/model_card.json`.",
        "",
        "## What it is",
        f"A boosted ensemble of three Keras CNNs (d1 and d2 vote, d3 decides where they disagree) that see each class "
        f"as a 64 px view plus {card['n_features'] // 2} features (RELION metadata, image statistics and spectral "
        f"measures from the full-detail image, each with a missing flag). Platt-calibrated; threshold "
        f"**{_f(card['threshold'])}** ({card.get('threshold_rule')}).",
        "",
        "## Training data",
        f"* Lab-like simulated Class2D jobs (`scripts/make_lab_corpus.py`, `cryodiscovery_dev.simulate.lab_classes`): {lab.get('jobs')} jobs, "
        f"{lab.get('classes')} classes ({lab.get('good')} good), seed {lab.get('seed')}; the training structures' jobs only.",
        f"* Real `relion_refine` Class2D/Class3D projects of training structures: {corpus.get('real_relion_train_projects')}.",
        f"* {card['training_data'].get('n_train_classes')} training and {card['training_data'].get('n_val_classes')} "
        f"validation images; stage sizes {card['training_data'].get('stage_sizes')}.",
        f"* Command: `{corpus.get('command')}`; training took {_f(extra.get('training_wall_seconds'), 0)} s on this machine (2 cores, no GPU).",
        *([f"* Note: {extra['recalibration_command']}"] if extra.get("recalibration_command") else []),
        "",
        "## 1. Real class averages (the test that counts)",
        "",
        "Kept, false negatives, FNR and junk removed: at the default operating point (`strictness balanced`, "
        "below). Positives-only sets (a Select job's kept classes) check false negatives, "
        "not precision. Baselines on the same classes: the high-frequency power fraction "
        "(`data/spectral.py: high_frequency_power_fraction`) and the class distribution (where the source has particle counts). "
        "`domain check`: the job's feature distance / the flag threshold, and the d1-d2 disagreement rate (reported, not used).",
        "",
        *real_table(ev.get("real_sets", [])),
        "",
        "### Strictness (the `strictness` parameter; `min_score` overrides it)",
        "",
        *decision_table(card),
        "",
        *blob_table(ev.get("blob_probe", [])),
        *probe_table(ev.get("early_round_probe"), ev.get("lab_holdout")),
        "## 2. Simulated and relion_refine hold-outs (structures never trained on)",
        "",
        *sim_table([(n, ev[k]) for n, k in (("lab-like simulated jobs", "lab_holdout"),
                                            ("real relion_refine jobs (simulated particles)", "relion_holdout")) if k in ev]),
        "",
        "## 3. Out-of-distribution check",
        *domain_section(domain),
        "",
        *reasons_section(ev.get("reasons")),
    ]
    lines += ["## The bundled example, scored by this model",
              "`examples/class2d_small` (a real relion_refine 3.1.3 Class2D of simulated particles, 48 px) through the "
              "select command with `--min_particles 10`; blue kept, orange rejected (truth: classes 1, 2, 4, 5 good; 9 is 78% true particles, 12 is 36%):", "",
              "![example montage](images/example_montage.png)", ""]
    if notes:
        lines += [notes.rstrip(), ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--o", type=Path, default=REPO / "docs" / "model_card.md")
    parser.add_argument("--notes", type=Path, default=REPO / "docs" / "model_card_notes.md",
                        help="hand-written sections appended to the card (comparisons, ablations)")
    args = parser.parse_args()
    card = json.loads((args.model / "model_card.json").read_text())
    notes = args.notes.read_text() if args.notes.is_file() else ""
    if notes.startswith("# "):  # the notes file's own title and introduction stay in the notes file
        notes = notes[notes.find("\n## ") + 1:] if "\n## " in notes else ""
    args.o.write_text(render(card, notes))
    print(f"wrote {args.o}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
