"""The ground-truth labelling rule for classes, shared by the example and the fake corpus."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: A class is labelled good (1) when at least this fraction of its particles are true particles ...
MIN_PURITY = 0.8
#: ... and it holds at least this many particles.
MIN_PARTICLES = 10
LABEL_RULE = f"label = 1 when purity >= {MIN_PURITY} and n_particles >= {MIN_PARTICLES}, else 0"


def class_table(class_numbers: np.ndarray, is_good: np.ndarray, n_classes: int) -> pd.DataFrame:
    """``class_number,label,purity,n_particles,n_good_particles`` for classes 1..n_classes."""
    class_numbers = np.asarray(class_numbers, int)
    is_good = np.asarray(is_good, bool)
    n = np.bincount(class_numbers, minlength=n_classes + 1)[1:]
    n_good = np.bincount(class_numbers, weights=is_good, minlength=n_classes + 1)[1:].astype(int)
    purity = np.divide(n_good, n, out=np.zeros(n_classes), where=n > 0)
    return pd.DataFrame({
        "class_number": np.arange(1, n_classes + 1),
        "label": ((purity >= MIN_PURITY) & (n >= MIN_PARTICLES)).astype(int),
        "purity": purity.round(4), "n_particles": n, "n_good_particles": n_good,
    })
