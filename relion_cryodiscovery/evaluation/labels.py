"""Read what the evaluation compares: our predictions and the ground truth, per class.

Predictions come from a CryoDiscovery job directory (``cryodiscovery_scores.csv``, else its
``backup_selection.star``) or straight from a scores CSV; their provenance from the
``cryodiscovery_scores.json`` beside the CSV (older jobs: the CSV's leading ``# key: value`` lines). Truth comes from a RELION Select job
directory (``backup_selection.star``, else the class numbers of ``class_averages.star`` or
``particles.star``), one of those STAR files, or a CSV with columns ``class_number,label``
(1 good, 0 bad). Every input problem raises :class:`CryoDiscoveryError` naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from relion_cryodiscovery.data.labels import read_selection, selection_file
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.pipeline.writing import SCORES_CSV, SCORES_JSON

BACKUP_SELECTION = "backup_selection.star"
CLASS_AVERAGES = "class_averages.star"
PARTICLES = "particles.star"


@dataclass
class Predictions:
    """Per-class decisions of one CryoDiscovery run, in class order."""

    class_numbers: np.ndarray
    selected: np.ndarray
    #: Calibrated P(good); NaN where unknown (e.g. read from backup_selection.star).
    scores: np.ndarray
    #: Particles per class; NaN where unknown.
    particles: np.ndarray
    reasons: list[str]
    source: Path
    #: The job directory when predictions came from one (for class_averages/particles.star).
    job_dir: Path | None = None
    #: Provenance of the scores (model version, input, ...): ``cryodiscovery_scores.json``, or the
    #: ``# key: value`` lines of an older scores CSV.
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def has_scores(self) -> bool:
        return bool(np.isfinite(self.scores).any())


@dataclass
class Truth:
    """Ground-truth labels. ``complete`` is False when only the good classes are known."""

    class_numbers: np.ndarray
    labels: np.ndarray
    complete: bool
    source: Path
    select_dir: Path | None = None


def read_csv_with_header(path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """CSV after any leading ``# key: value`` lines (returned as a dict); lower-case column names."""
    if not path.is_file():
        raise CryoDiscoveryError(path, "file not found")
    header: dict[str, str] = {}
    n_comment = 0
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.startswith("#"):
                    break
                key, _, value = line[1:].partition(":")
                header[key.strip()] = value.strip()
                n_comment += 1
        df = pd.read_csv(path, skiprows=n_comment)
    except Exception as exc:
        raise CryoDiscoveryError(path, f"not a readable CSV file ({' '.join(str(exc).split())})") from exc
    df.columns = [str(c).strip().lower() for c in df.columns]
    return df, header


def _read_csv(path: Path) -> pd.DataFrame:
    """CSV as a DataFrame (leading comment lines skipped)."""
    return read_csv_with_header(path)[0]


def scores_provenance(csv_path: Path, csv_header: dict[str, str]) -> dict[str, str]:
    """The provenance in the ``cryodiscovery_scores.json`` beside ``csv_path``, else ``csv_header``
    (the ``# key: value`` lines older versions wrote at the top of the CSV)."""
    beside = csv_path.with_name(SCORES_JSON)
    if not beside.is_file():
        return csv_header
    try:
        provenance = json.loads(beside.read_text(encoding="utf-8"))["provenance"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CryoDiscoveryError(beside, f"has no readable provenance ({type(exc).__name__}: {exc})") from None
    return {str(key): str(value) for key, value in provenance.items()}


def _int_column(df: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """A column of whole numbers, or a one-line error."""
    if column not in df.columns:
        found = ", ".join(map(str, df.columns))
        raise CryoDiscoveryError(path, f"missing column '{column}' (found: {found})")
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any() or (values != np.round(values)).any():
        raise CryoDiscoveryError(path, f"column '{column}' must hold whole numbers")
    return values.astype(np.int64)


def _float_column(df: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column with blanks as NaN; all-NaN when absent."""
    if column not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)


def _check_unique(class_numbers: np.ndarray, path: Path) -> None:
    if len(np.unique(class_numbers)) != len(class_numbers):
        raise CryoDiscoveryError(path, "class numbers are repeated")
    if len(class_numbers) and class_numbers.min() < 1:
        raise CryoDiscoveryError(path, "class numbers must be 1 or larger")


def read_predictions(path: str | Path) -> Predictions:
    """Predictions from a CryoDiscovery job directory or a ``cryodiscovery_scores.csv``."""
    path = Path(path)
    job_dir = path if path.is_dir() else None
    if job_dir is not None:
        if (job_dir / SCORES_CSV).is_file():
            path = job_dir / SCORES_CSV
        elif (job_dir / BACKUP_SELECTION).is_file():
            sel = read_selection(job_dir / BACKUP_SELECTION).labels
            k = len(sel)
            return Predictions(np.arange(1, k + 1), sel, np.full(k, np.nan), np.full(k, np.nan),
                               [""] * k, job_dir / BACKUP_SELECTION, job_dir)
        else:
            raise CryoDiscoveryError(job_dir, f"neither {SCORES_CSV} nor {BACKUP_SELECTION} found")
    df, header = read_csv_with_header(path)
    provenance = scores_provenance(path, header)
    classes = _int_column(df, "class_number", path)
    _check_unique(classes, path)
    selected = _int_column(df, "selected", path)
    if not np.isin(selected, (0, 1)).all():
        raise CryoDiscoveryError(path, "column 'selected' must be 0 or 1")
    scores = _float_column(df, "score")
    reasons = df["reason"].fillna("").astype(str).tolist() if "reason" in df.columns else [""] * len(df)
    particles = _float_column(df, "particles")
    particles[particles < 0] = np.nan  # -1 marks an unknown count
    order = np.argsort(classes, kind="stable")
    return Predictions(classes[order], selected[order], scores[order], particles[order],
                       [reasons[i] for i in order], path, job_dir or path.parent, provenance)


def _truth_from_star(path: Path, select_dir: Path | None) -> Truth:
    """Truth from backup_selection.star (complete) or class numbers of a selection (good only)."""
    found = read_selection(path)
    return Truth(found.class_numbers, found.labels, found.complete, path, select_dir)


def read_truth(path: str | Path) -> Truth:
    """Ground truth from a Select job dir, a backup_selection/class_averages/particles.star, or a CSV."""
    path = Path(path)
    if path.is_dir():
        return _truth_from_star(selection_file(path), path)
    if path.suffix.lower() == ".star":
        return _truth_from_star(path, path.parent)
    df = _read_csv(path)
    classes = _int_column(df, "class_number", path)
    _check_unique(classes, path)
    labels = _int_column(df, "label", path)
    if not np.isin(labels, (0, 1)).all():
        raise CryoDiscoveryError(path, "column 'label' must be 1 (good) or 0 (bad)")
    order = np.argsort(classes, kind="stable")
    return Truth(classes[order], labels[order], True, path, None)


def align(pred: Predictions, truth: Truth) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Truth labels for the predicted classes (in prediction order) plus notes on mismatches.

    Classes missing from a complete truth raise an error; an incomplete truth (only the good
    classes known) labels every other predicted class as junk.
    """
    notes: list[str] = []
    lookup = dict(zip(truth.class_numbers.tolist(), truth.labels.tolist()))
    if truth.complete:
        missing = [int(c) for c in pred.class_numbers if int(c) not in lookup]
        if missing:
            raise CryoDiscoveryError(truth.source, f"no label for predicted classes {missing[:10]}"
                                     + (" ..." if len(missing) > 10 else ""))
        extra = sorted(set(lookup) - set(pred.class_numbers.tolist()))
        if extra:
            notes.append(f"truth labels {len(extra)} classes that have no prediction; ignored")
    else:
        unknown = sorted(set(lookup) - set(pred.class_numbers.tolist()))
        if unknown:
            raise CryoDiscoveryError(truth.source,
                                     f"selects classes {unknown[:10]} that the prediction does not have")
        notes.append(f"truth from {truth.source.name}: classes not listed there are counted as bad")
    labels = np.array([lookup.get(int(c), 0) for c in pred.class_numbers], dtype=np.int64)
    return labels, pred.class_numbers, notes


def read_particle_truth(path: str | Path) -> pd.DataFrame:
    """Per-particle truth CSV: ``label`` (or the simulator's ``is_good``; 1 good, 0 junk) and ``class_number`` and/or ``image_name``."""
    path = Path(path)
    df = _read_csv(path)
    df = df.rename(columns={"rlnimagename": "image_name", "rlnclassnumber": "class_number", "is_good": "label"})
    labels = _int_column(df, "label", path)
    if not np.isin(labels, (0, 1)).all():
        raise CryoDiscoveryError(path, "column 'label' must be 1 (good) or 0 (junk)")
    if "class_number" not in df.columns and "image_name" not in df.columns:
        raise CryoDiscoveryError(path, "needs a 'class_number' or an 'image_name' column besides 'label'")
    out = pd.DataFrame({"label": labels})
    if "class_number" in df.columns:
        out["class_number"] = _int_column(df, "class_number", path)
    if "image_name" in df.columns:
        out["image_name"] = df["image_name"].astype(str).str.strip()
    return out
