#!/usr/bin/env python3
"""A blinded by-eye test: can a person tell corpus classes from real ones?

    python scripts/research/blind_montage_quiz.py --lab corpus_cache/lab --o /tmp/quiz --seed 3
    python scripts/research/blind_montage_quiz.py --lab corpus_cache/lab --o /tmp/quiz --seed 3 --reveal ANSWERS

Writes three PNGs of 128 px tiles (each scaled min to max, as RELION displays classes):
``reference_real.png`` (real classes, marked real), ``reference_corpus.png`` (corpus classes, marked
simulated) and ``quiz.png``: numbered tiles, half real and half corpus in random order, none of them in
the references. The corpus tiles are drawn with the real tiles' share of good classes. The answer key is
not written anywhere: it follows from ``--seed``. ``--reveal`` takes the guessed numbers of the corpus
tiles (comma separated) and prints the accuracy against the key.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from real_vs_corpus_montage import grid, labelled_grid, tile  # beside this script

REPO = Path(__file__).resolve().parents[2]


def draw(lab: Path, shared: Path, extra: Path, seed: int, n_reference: int, n_quiz: int):
    """(real reference, corpus reference, quiz images, is_corpus per quiz tile)."""
    from relion_cryodiscovery.evaluation.real_sets import load_real_sets

    rng = np.random.default_rng(seed)
    real, real_good = [], []
    for s in load_real_sets(shared, extra):
        labels = s.labels if s.labels is not None else np.ones(len(s.classes.images), int)
        real += list(s.classes.images)
        real_good += list(labels)
    order = rng.permutation(len(real))
    real = [real[i] for i in order]
    good_share = float(np.mean(real_good))
    table = pd.read_csv(lab / "classes.csv")
    good, bad = [], []
    for stack_path in sorted(lab.glob("stack_lab*.npy")):
        stack = np.load(stack_path)
        rows = table[table.job == stack_path.stem.removeprefix("stack_")].reset_index(drop=True)
        for i in range(len(stack)):
            (good if rows.good[i] else bad).append(stack[i])
    n_corpus = n_reference + n_quiz // 2
    n_good = int(round(good_share * n_corpus))
    corpus = [good[i] for i in rng.choice(len(good), n_good, replace=False)]
    corpus += [bad[i] for i in rng.choice(len(bad), n_corpus - n_good, replace=False)]
    corpus = [corpus[i] for i in rng.permutation(len(corpus))]
    quiz = real[n_reference:n_reference + n_quiz // 2] + corpus[n_reference:]
    is_corpus = np.array([False] * (n_quiz // 2) + [True] * (n_quiz - n_quiz // 2))
    shuffle = rng.permutation(len(quiz))
    return real[:n_reference], corpus[:n_reference], [quiz[i] for i in shuffle], is_corpus[shuffle]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", type=Path, default=REPO / "corpus_cache" / "lab", help="make_lab_corpus.py --stacks output")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "real")
    parser.add_argument("--extra", type=Path, default=REPO.parent / "real_extra")
    parser.add_argument("--o", type=Path, required=True, help="folder for the three PNGs")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--reference", type=int, default=24, help="tiles per reference montage")
    parser.add_argument("--quiz", type=int, default=32, help="quiz tiles (half real)")
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--reveal", default=None, help="comma-separated quiz numbers guessed to be corpus tiles")
    args = parser.parse_args()
    real_ref, corpus_ref, quiz, is_corpus = draw(args.lab, args.shared, args.extra, args.seed, args.reference, args.quiz)
    if args.reveal is not None:
        guessed = np.zeros(len(quiz), bool)
        for token in args.reveal.split(","):
            if token.strip():
                guessed[int(token) - 1] = True
        correct = int((guessed == is_corpus).sum())
        print(f"{correct} of {len(quiz)} tiles told apart correctly ({correct / len(quiz):.0%}; chance 50%); "
              f"corpus tiles were {','.join(str(i + 1) for i in np.flatnonzero(is_corpus))}")
        return 0
    args.o.mkdir(parents=True, exist_ok=True)
    grid([tile(x, args.tile) for x in real_ref], 8).save(args.o / "reference_real.png")
    grid([tile(x, args.tile) for x in corpus_ref], 8).save(args.o / "reference_corpus.png")
    labelled_grid(quiz, [str(i + 1) for i in range(len(quiz))], args.tile).save(args.o / "quiz.png")
    print(f"wrote {args.o}/reference_real.png, reference_corpus.png, quiz.png ({len(quiz)} tiles)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
