#!/usr/bin/env python3
"""Test-time augmentation measured on the real sets and the lab hold-out (issue #20; notes "After 0.8.0").

    python scripts/research/test_time_augmentation.py

Each class is scored as given and as the mean logit over its eight dihedral copies (four rotations, with and
without a mirror) of the network's view; the features are those of the class as given (rotation-invariant but
for edge anisotropy). Both scorings are judged with 0.8.0's decision (:mod:`decision_rules`, ``RULE_080``) on
every real set (with and without counts) and by ROC-AUC on the 80 held-out lab-like jobs.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
from decision_rules import RULE_080, _logit, decide  # scripts/research is the script's own folder

from cryodiscovery_dev import corpus_paths


def dihedral(images: np.ndarray) -> list[np.ndarray]:
    """The eight rotated and mirrored copies of (K, V, N, N) views."""
    copies = []
    for mirrored in (False, True):
        views = images[..., ::-1] if mirrored else images
        copies += [np.ascontiguousarray(np.rot90(views, k, axes=(-2, -1))) for k in range(4)]
    return copies


def scored(ensemble, images: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(calibrated scores as given, calibrated scores averaged in logit over the eight copies)."""
    given = ensemble.predict(images, features).calibrated
    logits = np.mean([_logit(ensemble.predict(copy, features).calibrated) for copy in dihedral(images)], axis=0)
    return given, 1 / (1 + np.exp(-logits))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    corpus_paths.add_model_and_data_args(parser)
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from relion_cryodiscovery.data.features import feature_values
    from relion_cryodiscovery.data.inputs import oriented_model_inputs
    from relion_cryodiscovery.evaluation.real_sets import load_real_sets
    from relion_cryodiscovery.model.ensemble import BoostedEnsemble

    ensemble = BoostedEnsemble.load(args.model)
    totals = {"as given": [0, 0, 0, 0], "eight copies": [0, 0, 0, 0]}  # lost, good, junk removed, junk
    for real in load_real_sets(args.shared, args.extra):
        variants = [(real.spec.name, real.classes)]
        if real.classes.metadata or real.classes.particle_counts is not None:
            variants.append((real.spec.name + " (stack only)", replace(real.classes, metadata={}, particle_counts=None)))
        for name, classes in variants:
            inputs, _ = oriented_model_inputs(classes)
            labels = np.asarray(real.labels)
            known = labels >= 0
            y = labels[known].astype(bool)
            resolution = feature_values(inputs.features, "spectral_resolution_kd")[known]
            centre = feature_values(inputs.features, "ring_1")[known]
            line = f"{name[:44]:45s}"
            for key, scores in zip(totals, scored(ensemble, inputs.images, inputs.features)):
                scores = scores[known]
                keep = decide(scores, resolution, centre, RULE_080)
                auc = roc_auc_score(y, scores) if y.any() and (~y).any() else float("nan")
                counts = [int((y & ~keep).sum()), int(y.sum()), int((~y & ~keep).sum()), int((~y).sum())]
                totals[key] = [a + b for a, b in zip(totals[key], counts)]
                line += (f" {key}: ROC-AUC {auc:.3f}, lost {counts[0]}/{counts[1]}, junk removed "
                         f"{counts[2] / max(counts[3], 1):.2f} |")
            print(line, flush=True)
    for key, (lost, good, removed, junk) in totals.items():
        print(f"pooled, {key}: lost {lost}/{good}, junk removed {removed}/{junk}")
    held_out = np.load(args.lab / "test.npz")
    given, copies = scored(ensemble, held_out["images"].astype(np.float32), held_out["features"])
    y = held_out["labels"].astype(bool)
    print(f"lab hold-out ROC-AUC: as given {roc_auc_score(y, given):.4f}, eight copies {roc_auc_score(y, copies):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
