"""How well the reason model names junk: per-reason precision and recall, agreement with labels by eye."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model.reasons import REASONS


def reason_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy, per-reason precision / recall / support and the confusion matrix (rows: truth,
    columns: predicted, in :data:`REASONS` order) of reason indices; entries < 0 in ``truth`` are left out."""
    truth, predicted = np.asarray(truth, dtype=int), np.asarray(predicted, dtype=int)
    keep = truth >= 0
    truth, predicted = truth[keep], predicted[keep]
    k = len(REASONS)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    per_reason = {}
    for i, reason in enumerate(REASONS):
        support, called = int(confusion[i].sum()), int(confusion[:, i].sum())
        per_reason[reason] = {"support": support, "predicted": called,
                              "recall": float(confusion[i, i] / support) if support else float("nan"),
                              "precision": float(confusion[i, i] / called) if called else float("nan")}
    return {"classes": int(len(truth)), "accuracy": float((truth == predicted).mean()) if len(truth) else float("nan"),
            "per_reason": per_reason, "confusion": confusion.tolist()}


#: Kinds labelled by eye that the reason model does not name (left out of the agreement, counted):
#: ``not junk (plausible view)`` marks a rejected class that is a plausible particle view (a strict
#: selection's, docs/real_sets.md "Junk kinds by eye").
NOT_NAMED = ("unsure", "mixed", "not junk (plausible view)")


def junk_kinds_by_eye(path: str | Path) -> dict[str, dict[int, str]]:
    """The real rejected classes' kinds labelled by eye (``benchmarks/real_sets/junk_kinds_by_eye.csv``):
    ``{set: {class number: reason}}``, without the classes whose two passes disagreed (``unsure``), those
    labelled ``mixed`` (a kind the reason model folds into low resolution) and the rejected classes that are
    plausible views, not junk (:data:`NOT_NAMED`). Class numbers are the source's (the real-set loader's)."""
    labels: dict[str, dict[int, str]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["final"] in NOT_NAMED:
                continue
            if row["final"] not in REASONS:
                raise ValueError(f"{path}: unknown kind {row['final']!r} (set {row['set']}, class {row['class']})")
            labels.setdefault(row["set"], {})[int(row["class"])] = row["final"]
    return labels


def confident_calls(probabilities: np.ndarray, truth: np.ndarray, min_probability: float) -> dict:
    """The calls the outputs name (most likely kind at ``min_probability`` or above; the rest say
    ``unclear``): the fraction of classes named and how many of those are right."""
    probabilities, truth = np.asarray(probabilities), np.asarray(truth, dtype=int)
    called = probabilities.max(axis=1) >= min_probability
    right = probabilities.argmax(axis=1) == truth
    return {"min_probability": float(min_probability), "named": float(called.mean()),
            "correct_when_named": float(right[called].mean()) if called.any() else float("nan")}


@dataclass
class LabelledRealSet:
    """The rejected classes of one real set whose kind was labelled by eye, as the product's model sees them
    (:func:`~relion_cryodiscovery.data.inputs.oriented_model_inputs` on the set's class stack)."""

    name: str
    #: (n, V, S, S) views and (n, F) feature rows of the labelled classes, in class order.
    images: np.ndarray
    features: np.ndarray
    #: (n,) index into :data:`REASONS` of each class's kind by eye.
    truth: np.ndarray
    class_numbers: list[int]


def labelled_real_inputs(real_sets, by_eye: dict[str, dict[int, str]]) -> list[LabelledRealSet]:
    """The labelled classes (:func:`junk_kinds_by_eye`) of every loaded real set that has some, as model inputs."""
    from ..data.inputs import oriented_model_inputs

    out = []
    for real in real_sets:
        labels = by_eye.get(real.spec.name)
        if not labels:
            continue
        inputs, _ = oriented_model_inputs(real.classes)
        numbers = [int(n) for n in real.classes.class_numbers]
        rows = [numbers.index(c) for c in sorted(labels)]
        out.append(LabelledRealSet(real.spec.name, inputs.images[rows], inputs.features[rows],
                                   np.array([REASONS.index(labels[numbers[r]]) for r in rows]),
                                   [numbers[r] for r in rows]))
    return out


def agreement(truth: dict[str, np.ndarray], probabilities: dict[str, np.ndarray], min_probability: float) -> dict:
    """:func:`reason_metrics` pooled over the sets and per set (``{set: reason indices}`` and ``{set: (n, K)
    probabilities}``), beside the trivial baseline of always answering the most common kind, with
    :func:`confident_calls` at ``min_probability`` pooled and per set."""
    names = list(truth)
    truth_all = np.concatenate([truth[n] for n in names])
    probabilities_all = np.concatenate([probabilities[n] for n in names])
    pooled = reason_metrics(truth_all, probabilities_all.argmax(axis=1))
    common = int(np.bincount(truth_all, minlength=len(REASONS)).argmax())
    pooled["baseline_most_common"] = {"reason": REASONS[common], "accuracy": float((truth_all == common).mean())}
    pooled["confident"] = confident_calls(probabilities_all, truth_all, min_probability)
    per_set = {n: reason_metrics(truth[n], probabilities[n].argmax(axis=1)) for n in names}
    return {"pooled": pooled, "per_set": per_set}


def split_agreement(per_set: dict[str, dict], design_sets: list[str] | tuple[str, ...]) -> dict:
    """Agreement pooled over the sets a reason model's design looked at and, apart, over the others (the
    honest figure), each beside always answering ``noise`` there, from :func:`agreement`'s ``per_set``."""
    out = {"design_sets": [n for n in per_set if n in design_sets]}
    for part, names in (("design", out["design_sets"]), ("check", [n for n in per_set if n not in design_sets])):
        classes = sum(per_set[n]["classes"] for n in names)
        right = sum(per_set[n]["accuracy"] * per_set[n]["classes"] for n in names)
        noise = sum(per_set[n]["per_reason"]["noise"]["support"] for n in names)
        out[part] = {"sets": names, "classes": classes, "accuracy": right / classes if classes else float("nan"),
                     "always_noise": noise / classes if classes else float("nan"),
                     "per_set": {n: per_set[n]["accuracy"] for n in names}}
    return out


def real_reason_agreement(model, real_sets, by_eye: dict[str, dict[int, str]]) -> dict:
    """The reason model (:class:`~relion_cryodiscovery.model.reasons.ReasonModel`) on the real rejected
    classes labelled by eye (:func:`junk_kinds_by_eye`): :func:`agreement` at the model's ``min_probability``.
    Honest only for a model that has not been trained on these classes (see :func:`leave_one_set_out`)."""
    labelled = labelled_real_inputs(real_sets, by_eye)
    return agreement({s.name: s.truth for s in labelled},
                     {s.name: model.predict(s.images, s.features) for s in labelled}, model.min_probability)


def leave_one_set_out(labelled: list[LabelledRealSet], fit, log=print) -> dict[str, np.ndarray]:
    """Each labelled real set's probabilities from a model trained without it: ``fit(other sets)`` returns a
    model (with ``predict(images, features)``) trained on the other sets' labelled classes (and whatever
    else it uses, never the held-out set), then used on the held-out set. ``{set: (n, K) probabilities}``."""
    out = {}
    for held_out in labelled:
        model = fit([s for s in labelled if s.name != held_out.name])
        out[held_out.name] = np.asarray(model.predict(held_out.images, held_out.features))
        right = float((out[held_out.name].argmax(axis=1) == held_out.truth).mean())
        log(f"leave-one-set-out: {held_out.name} held out ({len(held_out.truth)} classes): agreement {right:.3f}")
    return out


def threshold_for_precision(probabilities: np.ndarray, truth: np.ndarray, precision: float,
                            grid=tuple(np.round(np.arange(0.30, 0.951, 0.05), 2))) -> float:
    """The smallest probability on ``grid`` at which the most likely kinds of the classes at or above it are
    at least ``precision`` right (the largest grid value if none is)."""
    probabilities, truth = np.asarray(probabilities), np.asarray(truth, dtype=int)
    best, p = probabilities.argmax(axis=1), probabilities.max(axis=1)
    for threshold in grid:
        called = p >= threshold
        if called.any() and (best[called] == truth[called]).mean() >= precision:
            return float(threshold)
    return float(grid[-1])


def grade_rank_correlation(ours: list[str], expert: list[str]) -> float:
    """Spearman's rho between our A-F grades and an expert's (A B C D E F as 1-6; ties ranked)."""
    from scipy.stats import spearmanr

    order = {letter: i for i, letter in enumerate("ABCDEF", start=1)}
    return float(spearmanr([order[g] for g in ours], [order[g] for g in expert]).statistic)


def threshold_leave_one_set_out(truth: dict[str, np.ndarray], probabilities: dict[str, np.ndarray],
                                precision: float) -> dict:
    """A naming bar (``min_probability``) chosen on real classes, and measured honestly: for each set, the bar
    :func:`threshold_for_precision` picks on the *other* sets' classes is applied to it, and the named
    fraction and right-when-named are pooled over the held-out sets. ``min_probability`` is the bar picked on
    all sets (the one to ship); ``per_set`` the bar each held-out set got. ``probabilities`` must be
    held-out predictions themselves (from a model not trained on these classes, or :func:`leave_one_set_out`)."""
    names = list(truth)
    named = right = 0
    per_set = {}
    for name in names:
        others = [n for n in names if n != name]
        bar = threshold_for_precision(np.concatenate([probabilities[n] for n in others]),
                                      np.concatenate([truth[n] for n in others]), precision)
        called = probabilities[name].max(axis=1) >= bar
        per_set[name] = bar
        named += int(called.sum())
        right += int((probabilities[name].argmax(axis=1)[called] == truth[name][called]).sum())
    total = sum(len(truth[n]) for n in names)
    return {"precision_target": float(precision),
            "min_probability": threshold_for_precision(np.concatenate([probabilities[n] for n in names]),
                                                       np.concatenate([truth[n] for n in names]), precision),
            "held_out": {"named": named / total, "correct_when_named": right / named if named else float("nan"),
                         "classes": total, "bar_per_set": per_set}}
