"""Judge a model on labelled classes at one operating point, for the research scripts that compare models
(``scripts/research/real_finetune_loso.py``, ``scripts/research/tight_box_finetune.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def real_inputs(shared: Path, extra: Path) -> list[dict]:
    """Every labelled real set as model inputs (name, images, features, labels; classes of unknown label left
    out; the inverted polarity check left out)."""
    from relion_cryodiscovery.data.inputs import oriented_model_inputs
    from relion_cryodiscovery.evaluation.real_sets import load_real_sets

    out = []
    for s in load_real_sets(shared, extra):
        if s.spec.inverted:
            continue
        inputs, _ = oriented_model_inputs(s.classes)
        known = s.labels >= 0
        out.append({"name": s.spec.name, "images": inputs.images[known], "features": inputs.features[known],
                    "labels": s.labels[known].astype(int)})
    return out


def judged(ensemble, point: dict, images: np.ndarray, features: np.ndarray, labels: np.ndarray) -> dict:
    """Classes, good lost and junk removed of one job's classes at ``point`` (a card's operating point), with
    the ROC-AUC and the scores."""
    from relion_cryodiscovery.data.features import feature_values
    from relion_cryodiscovery.evaluation.metrics import roc_auc
    from relion_cryodiscovery.selection import SelectionRule, select_classes

    scores = ensemble.predict(images, features).calibrated
    chosen = select_classes(scores, None, [""] * len(scores), SelectionRule.at(point), allow_empty=True,
                            resolution=feature_values(features, "spectral_resolution_kd"),
                            centre=feature_values(features, "ring_1")).selected
    good = np.asarray(labels) == 1
    return {"classes": int(len(good)), "good": int(good.sum()), "lost": int((good & ~chosen).sum()),
            "junk": int((~good).sum()), "junk_removed": int((~good & ~chosen).sum()),
            "auc": float(roc_auc(good.astype(int), scores)) if 0 < good.sum() < len(good) else float("nan"),
            "scores": [round(float(x), 4) for x in scores]}
