#!/usr/bin/env python3
"""How real class averages and lab-like simulated ones differ, as numbers measured on the tiles a person sees.

    python scripts/research/realism_stats.py --jobs 40 --seed 7 [--montage /tmp/sim.png]

Simulates ``--jobs`` lab-like jobs (``simulate.lab_classes``, training structures) and loads the real
sets (``../shared/real``, ``../real_extra``; ``evaluation.real_sets``). Each class is scaled from min to
max, as RELION's display and our montages show it, and measured:

* ``background``: where the box corners sit in the displayed range (0 black .. 1 white);
* ``fill``: radius holding 90% of the contrast against the background, over half the box;
* ``dark``: fraction of the inscribed disc darker than the background by 15% of the range
  (halos, CTF fringes, holes between domains);
* ``hf``: the high-frequency power fraction (``data.spectral``);
* ``corner_noise``: spread of the corner pixels over the range (noise outside the mask).

Prints quantiles per domain and the Kolmogorov-Smirnov distance (0 alike .. 1 disjoint) for all classes and
for good ones (real sets' labels; real positives-only sets count as good). ``--montage`` writes a tile grid
of the simulated classes for looking by eye.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]

MEASURES = ("background", "fill", "dark", "hf", "corner_noise")


def display_measures(image: np.ndarray) -> dict[str, float]:
    """Measures of one class as displayed (min-max scaled)."""
    from relion_cryodiscovery.data.spectral import high_frequency_power_fraction

    x = np.asarray(image, np.float64)
    x = (x - x.min()) / max(float(np.ptp(x)), 1e-12)
    n = x.shape[0]
    y, xx = np.indices(x.shape) - (n - 1) / 2.0
    r = np.hypot(xx, y)
    corners = x[r > 0.5 * n]
    bg = float(np.median(corners))
    disc = r <= 0.5 * n
    contrast = np.abs(x - bg) * disc
    order = np.argsort(r[disc])
    cumulative = np.cumsum(contrast[disc][order])
    r90 = float(r[disc][order][np.searchsorted(cumulative, 0.9 * cumulative[-1])]) if cumulative[-1] > 0 else 0.0
    return {
        "background": bg,
        "fill": r90 / (0.5 * n),
        "dark": float(np.mean(x[disc] < bg - 0.15)),
        "hf": float(high_frequency_power_fraction(image)),
        "corner_noise": float(np.percentile(corners, 90) - np.percentile(corners, 10)),
    }


def real_table(shared: Path, extra: Path) -> pd.DataFrame:
    from relion_cryodiscovery.evaluation.real_sets import load_real_sets

    rows = []
    for s in load_real_sets(shared, extra):
        labels = s.labels if s.labels is not None else np.ones(len(s.classes.images), int)
        for image, label in zip(s.classes.images, labels):
            rows.append({"set": s.spec.name, "good": int(label), **display_measures(image)})
    return pd.DataFrame(rows)


def simulated_table(jobs: int, seed: int) -> tuple[pd.DataFrame, list[np.ndarray], list[str]]:
    from cryodiscovery_dev.lab_corpus import model_split
    from cryodiscovery_dev.simulate import lab_classes

    train_models, _ = model_split()
    rows, images, notes = [], [], []
    for j in range(jobs):
        rng = np.random.default_rng([seed + j, 1])
        spec = lab_classes.random_job_spec(rng, seed + j, train_models)
        classes, truth = lab_classes.simulate_job(spec)
        for image, t in zip(classes.images, truth):
            rows.append({"set": f"lab{seed + j}", "good": int(t.good), "kind": t.kind, **display_measures(image)})
            images.append(image)
            notes.append(f"{t.kind} n={t.n_particles} {'good' if t.good else 'bad'}")
    return pd.DataFrame(rows), images, notes


def compare(real: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    from scipy.stats import ks_2samp

    out = []
    for subset in ("all", "good"):
        r = real if subset == "all" else real[real.good == 1]
        s = sim if subset == "all" else sim[sim.good == 1]
        for m in MEASURES:
            rq, sq = np.percentile(r[m], [10, 50, 90]), np.percentile(s[m], [10, 50, 90])
            out.append({"classes": subset, "measure": m,
                        "real q10/50/90": " / ".join(f"{v:.3f}" for v in rq),
                        "simulated q10/50/90": " / ".join(f"{v:.3f}" for v in sq),
                        "KS": round(float(ks_2samp(r[m], s[m]).statistic), 3)})
    return pd.DataFrame(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=40, help="simulated jobs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "real")
    parser.add_argument("--extra", type=Path, default=REPO.parent / "real_extra")
    parser.add_argument("--montage", type=Path, default=None, help="write simulated tiles here (PNG)")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    args = parser.parse_args()
    real = real_table(args.shared, args.extra)
    sim, images, notes = simulated_table(args.jobs, args.seed)
    table = compare(real, sim)
    print(f"real: {len(real)} classes ({int(real.good.sum())} good); simulated: {len(sim)} classes "
          f"({int(sim.good.sum())} good) from {args.jobs} jobs")
    if args.markdown:
        print("| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns))
        for row in table.itertuples(index=False):
            print("| " + " | ".join(str(v) for v in row) + " |")
    else:
        print(table.to_string(index=False))
    if args.montage:
        from real_vs_corpus_montage import labelled_grid

        rng = np.random.default_rng(args.seed)
        pick = rng.permutation(len(images))[:40]
        labelled_grid([images[i] for i in pick], [notes[i] for i in pick], 128).save(args.montage)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
