"""Sequential boosting by filtering (Schapire 1990): d1; d2 on d1's filtered set; d3 on disagreements.

Stage sets (class indices into the training set, computed with class-level probabilities =
mean over views, on un-augmented inputs with full metadata):

* **d1** -- every training class.
* **d2** -- half classes d1 got wrong ("hard"), half classes d1 got right ("easy"), drawn with
  ``numpy.random.default_rng([seed, "d2"])``. Size of each half:
  ``h = min(max(n_wrong, ceil(min_hard_fraction * N), min_stage_classes // 2), N // 2)``.
  If d1 made fewer than ``h`` mistakes (usual: d1 fits its own training data well), the hard
  half is filled up with the correctly classified classes of lowest margin ``|p_d1 - 0.5|``;
  if it made more than ``h``, ``h`` mistakes are drawn at random. The easy half is a random
  draw of ``h`` of the remaining correct classes.
* **d3** -- the classes on which d1 and d2 disagree at 0.5. If fewer than
  ``max(ceil(min_d3_fraction * N), min_stage_classes)``, filled up with the agreeing classes of
  lowest combined margin ``|(p_d1 + p_d2) / 2 - 0.5|``.

The sets are written to ``out_dir/stage_sets.json``. After the three stages the raw ensemble
score is calibrated on ``val`` and the card, ``d1/d2/d3.keras`` and ``model_card.json`` are
written to ``out_dir`` (by the chief only, when several workers train together).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..data.features import FEATURE_FILLS, FEATURE_NAMES
from ..evaluation.metrics import binary_metrics, expected_calibration_error
from ..model.calibration import THRESHOLD_RULE, choose_threshold, fit_platt
from ..model.card import FORMAT_VERSION, ModelCard, file_sha256, utc_now
from ..model.distribute import is_chief, worker_output_dir
from ..model.ensemble import BoostedEnsemble, predict_views
from ..model.network import NetworkConfig, build_network, compile_network
from .trainer import Log, TrainConfig, TrainingArrays, fit_model

__all__ = [
    "BoostingConfig", "StageSets", "TrainingArrays", "select_d2_set", "select_d3_set",
    "train_boosted_ensemble", "sweep",
]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoostingConfig:
    """Network, fit loop and stage-set rules of one boosted training run."""

    network: NetworkConfig = NetworkConfig()
    train: TrainConfig = TrainConfig()
    #: Minimum size of d2's hard half as a fraction of the training classes.
    min_hard_fraction: float = 0.25
    #: Minimum size of d3's set as a fraction of the training classes.
    min_d3_fraction: float = 0.25
    #: No stage trains on fewer classes than this (when the training set has them).
    min_stage_classes: int = 16
    #: Learning rate when fine-tuning from ``init_from`` (None = ``train.learning_rate``).
    fine_tune_learning_rate: float | None = None
    #: Threshold rule parameters (see :mod:`relion_cryodiscovery.model.calibration`).
    max_false_negative_rate: float = 0.02
    threshold_cap: float = 0.5
    model_version: str = "dev"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StageSets:
    """Training-class indices of each stage and how d2/d3's sets were filled."""

    d1: np.ndarray
    d2: np.ndarray
    d3: np.ndarray
    d2_rule: dict[str, Any] = field(default_factory=dict)
    d3_rule: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"d1": self.d1.tolist(), "d2": self.d2.tolist(), "d3": self.d3.tolist(),
                "d2_rule": self.d2_rule, "d3_rule": self.d3_rule}

    @classmethod
    def load(cls, path: str | Path) -> "StageSets":
        values = json.loads(Path(path).read_text())
        return cls(*(np.asarray(values[k], dtype=np.int64) for k in ("d1", "d2", "d3")),
                   values.get("d2_rule", {}), values.get("d3_rule", {}))


def select_d2_set(
    p_d1: np.ndarray, labels: np.ndarray, rng: np.random.Generator, min_hard_fraction: float, min_classes: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """d2's class indices (sorted) and a description of how they were chosen (module rule)."""
    n = len(labels)
    correct = (np.asarray(p_d1) >= 0.5) == np.asarray(labels).astype(bool)
    wrong_idx, right_idx = np.flatnonzero(~correct), np.flatnonzero(correct)
    half = min(max(len(wrong_idx), math.ceil(min_hard_fraction * n), min_classes // 2), n // 2)
    if len(wrong_idx) >= half:
        hard = rng.choice(wrong_idx, size=half, replace=False)
        filled = 0
    else:
        margin = np.abs(np.asarray(p_d1, dtype=np.float64)[right_idx] - 0.5)
        filled = half - len(wrong_idx)
        hard = np.concatenate([wrong_idx, right_idx[np.argsort(margin, kind="stable")[:filled]]])
    rest = np.setdiff1d(right_idx, hard)
    easy = rng.choice(rest, size=min(half, len(rest)), replace=False)
    rule = {"n_wrong": int(len(wrong_idx)), "half": int(half), "hard_filled_low_margin": int(filled),
            "n_easy": int(len(easy))}
    return np.sort(np.concatenate([hard, easy]).astype(np.int64)), rule


def select_d3_set(
    p_d1: np.ndarray, p_d2: np.ndarray, min_fraction: float, min_classes: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """d3's class indices (sorted): d1/d2 disagreements, filled up by lowest combined margin."""
    p_d1, p_d2 = np.asarray(p_d1, np.float64), np.asarray(p_d2, np.float64)
    n = len(p_d1)
    disagree = np.flatnonzero((p_d1 >= 0.5) != (p_d2 >= 0.5))
    wanted = min(max(math.ceil(min_fraction * n), min_classes), n)
    filled = 0
    chosen = disagree
    if len(disagree) < wanted:
        agree = np.setdiff1d(np.arange(n), disagree)
        margin = np.abs(0.5 * (p_d1[agree] + p_d2[agree]) - 0.5)
        filled = wanted - len(disagree)
        chosen = np.concatenate([disagree, agree[np.argsort(margin, kind="stable")[:filled]]])
    rule = {"n_disagree": int(len(disagree)), "filled_low_margin": int(filled)}
    return np.sort(chosen.astype(np.int64)), rule


def _member_factory(
    n_features: int, config: BoostingConfig, train: TrainingArrays, init: keras.Model | None
) -> Callable[[], keras.Model]:
    """Fresh network (feature statistics from ``train``), or a copy of ``init`` for fine-tuning.

    Fine-tuning keeps ``init``'s architecture and feature normalisation (cloned config) and weights.
    """

    def build() -> keras.Model:
        if init is None:
            model = build_network(n_features, config.network, feature_sample=train.features)
            return compile_network(model, config.train.learning_rate)
        model = keras.models.clone_model(init)
        model.set_weights(init.get_weights())
        return compile_network(model, config.fine_tune_learning_rate or config.train.learning_rate)

    return build


def train_boosted_ensemble(
    train: TrainingArrays,
    val: TrainingArrays,
    config: BoostingConfig,
    strategy: tf.distribute.Strategy | None,
    out_dir: str | Path,
    resume: bool = False,
    init_from: BoostedEnsemble | None = None,
    log: Log | None = None,
    *,
    feature_names: Sequence[str] = FEATURE_NAMES,
    feature_fills: Sequence[float] = tuple(FEATURE_FILLS),
    preprocessing: dict[str, Any] | None = None,
    data_files: Sequence[str | Path] = (),
    should_abort: Callable[[], bool] | None = None,
) -> BoostedEnsemble:
    """Train d1, d2, d3 by filtering, calibrate on ``val``, write the ensemble to ``out_dir``.

    With a multi-worker strategy every worker trains (in lockstep) but only the chief writes
    ``out_dir``; the others keep their checkpoints in a temporary directory, removed at the end
    (:func:`~relion_cryodiscovery.model.distribute.worker_output_dir`).
    """
    log = log or _logger.info
    strategy = strategy or tf.distribute.get_strategy()
    with worker_output_dir(out_dir, strategy, copy_from_chief=("checkpoints",) if resume else ()) as out:
        chief = is_chief(strategy)
        n_features = train.n_features
        if val.n_features != n_features:
            raise ValueError(f"train has {n_features} features, val has {val.n_features}")
        if init_from is not None and init_from.card.n_features != n_features:
            raise ValueError(f"init_from expects {init_from.card.n_features} features, data have {n_features}")
        names, fills = [str(n) for n in feature_names], [float(f) for f in feature_fills]
        if 2 * len(names) != n_features or len(fills) != len(names):
            raise ValueError(f"{len(names)} feature names / {len(fills)} fills do not match F={n_features}")
        seed = config.train.seed
        batch = config.train.batch_size * strategy.num_replicas_in_sync

        def fit(stage: str, subset: np.ndarray) -> keras.Model:
            init = getattr(init_from, stage) if init_from is not None else None
            arrays = train.subset(subset)
            return fit_model(stage, _member_factory(n_features, config, arrays, init), arrays, val, config.train,
                             strategy, out / "checkpoints" / stage, resume, log, should_abort)

        def class_p(models: list[keras.Model]) -> np.ndarray:
            return predict_views(models, train.images, train.features, batch, strategy, should_abort)

        all_idx = np.arange(len(train))
        d1 = fit("d1", all_idx)
        p_d1 = class_p([d1])[:, 0]
        d2_idx, d2_rule = select_d2_set(p_d1, train.labels, np.random.default_rng([seed, 2]),
                                        config.min_hard_fraction, config.min_stage_classes)
        log(f"d2 set: {len(d2_idx)} classes ({d2_rule})")
        d2 = fit("d2", d2_idx)
        p_d2 = class_p([d2])[:, 0]
        d3_idx, d3_rule = select_d3_set(p_d1, p_d2, config.min_d3_fraction, config.min_stage_classes)
        log(f"d3 set: {len(d3_idx)} classes ({d3_rule})")
        sets = StageSets(all_idx, d2_idx, d3_idx, d2_rule, d3_rule)
        (out / "stage_sets.json").write_text(json.dumps(sets.to_dict()))
        d3 = fit("d3", d3_idx)

        card = ModelCard(
            format_version=FORMAT_VERSION, model_version=config.model_version, created=utc_now(),
            preprocessing=dict(preprocessing or {}), feature_names=names, feature_fills=fills,
            n_features=n_features, network=config.network.to_dict(),
            calibration={"method": "platt", "a": 1.0, "b": 0.0},
            threshold=0.5, threshold_rule="", training_data=_data_summary(train, val, sets, data_files),
            validation_metrics={}, ece=float("nan"),
            extra={"boosting": config.to_dict(), "training_seconds": _epoch_seconds(out / "checkpoints"),
                   "tensorflow": tf.__version__, "keras": keras.__version__,
                   "replicas": int(strategy.num_replicas_in_sync)},
        )
        ensemble = BoostedEnsemble(d1, d2, d3, card)
        calibrate_ensemble(ensemble, val, config, batch, strategy, log)
        ensemble.save(out)
        where = out if chief else f"{out} (non-chief worker: temporary copy, removed at the end)"
        log(f"ensemble written to {where}: {card.validation_metrics} ECE {card.ece:.3f} "
            f"threshold {card.threshold:.3f}")
        return ensemble


def calibrate_ensemble(
    ensemble: BoostedEnsemble, val: TrainingArrays, config: BoostingConfig, batch: int,
    strategy: tf.distribute.Strategy | None, log: Log,
) -> None:
    """Fit Platt scaling and the threshold on ``val``; store them and the metrics in the card."""
    card = ensemble.card
    card.calibration = {"method": "platt", "a": 1.0, "b": 0.0}
    raw = ensemble.predict(val.images, val.features, batch_size=batch, strategy=strategy).raw
    calibration = fit_platt(raw, val.labels)
    card.calibration = calibration.to_dict()
    calibrated = calibration(raw)
    max_fnr, cap = config.max_false_negative_rate, config.threshold_cap
    card.threshold = choose_threshold(calibrated, val.labels, max_fnr, cap)
    card.threshold_rule = THRESHOLD_RULE.format(max_fnr=max_fnr, cap=cap)
    card.ece = expected_calibration_error(val.labels, calibrated)
    card.validation_metrics = binary_metrics(val.labels, calibrated, card.threshold)
    card.extra["validation_ece_raw"] = expected_calibration_error(val.labels, raw)
    log(f"calibration on {len(val)} validation classes: {calibration}")


def _data_summary(
    train: TrainingArrays, val: TrainingArrays, sets: StageSets, files: Sequence[str | Path]
) -> dict:
    return {
        "n_train_classes": len(train), "n_val_classes": len(val),
        "n_train_good": int(train.labels.sum()), "n_val_good": int(val.labels.sum()),
        "views_per_class": train.n_views,
        "train_jobs": sorted(set(train.groups.tolist())), "val_jobs": sorted(set(val.groups.tolist())),
        "stage_sizes": {"d1": len(sets.d1), "d2": len(sets.d2), "d3": len(sets.d3)},
        "d2_rule": sets.d2_rule, "d3_rule": sets.d3_rule,
        "files": {str(f): file_sha256(f) for f in files},
    }


#: Grid keys :func:`sweep` understands and where each lives.
SWEEP_NETWORK_KEYS = ("depth", "width", "activation", "dropout", "dense_units", "batch_norm")
SWEEP_TRAIN_KEYS = ("learning_rate", "batch_size", "epochs")


def sweep(
    train: TrainingArrays,
    val: TrainingArrays,
    grid: dict[str, Sequence[Any]],
    base: BoostingConfig = BoostingConfig(),
    strategy: tf.distribute.Strategy | None = None,
    out_dir: str | Path = "sweep",
    log: Log | None = None,
    table_path: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Train one single model (a d1) per grid point; return rows of parameters and validation metrics.

    ``grid`` maps keys of :data:`SWEEP_NETWORK_KEYS` / :data:`SWEEP_TRAIN_KEYS` to value lists,
    e.g. ``{"depth": [3, 4], "activation": ["relu", "elu"], "width": [16, 32],
    "learning_rate": [1e-3, 3e-4]}``.
    The table is also written as JSON lines to ``table_path`` (default ``out_dir/sweep.jsonl``).
    """
    log = log or _logger.info
    unknown = set(grid) - set(SWEEP_NETWORK_KEYS) - set(SWEEP_TRAIN_KEYS)
    if unknown:
        raise ValueError(f"unknown sweep keys {sorted(unknown)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table_path = Path(table_path) if table_path else out / "sweep.jsonl"
    strategy = strategy or tf.distribute.get_strategy()
    keys = sorted(grid)
    rows: list[dict[str, Any]] = []
    for number, values in enumerate(itertools.product(*(grid[k] for k in keys))):
        point = dict(zip(keys, values))
        network = replace(base.network, **{k: v for k, v in point.items() if k in SWEEP_NETWORK_KEYS})
        train_config = replace(base.train, **{k: v for k, v in point.items() if k in SWEEP_TRAIN_KEYS})
        config = replace(base, network=network, train=train_config)
        started = time.perf_counter()
        build = _member_factory(train.n_features, config, train, None)
        model = fit_model(f"sweep_{number:03d}", build, train, val,
                          train_config, strategy, out / f"point_{number:03d}", False, log)
        batch = train_config.batch_size * strategy.num_replicas_in_sync
        p = predict_views([model], val.images, val.features, batch, strategy)[:, 0]
        row = {**point, **binary_metrics(val.labels, p, 0.5),
               "val_loss": float(_bce(p, val.labels)), "ece": expected_calibration_error(val.labels, p),
               "parameters": int(model.count_params()), "seconds": time.perf_counter() - started}
        rows.append(row)
        with open(table_path, "a") as handle:
            handle.write(json.dumps(row) + "\n")
        log(f"sweep {number + 1}: {row}")
    return rows


def _bce(p: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    y = np.asarray(labels, np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _epoch_seconds(checkpoints: Path) -> float:
    """Seconds spent in training epochs over all stages, from their ``state.json`` histories.

    Counted from the histories, so an interrupted and resumed run reports its real training time.
    """
    total = 0.0
    for state in sorted(checkpoints.glob("*/state.json")):
        total += sum(float(epoch.get("seconds", 0.0)) for epoch in json.loads(state.read_text()).get("history", []))
    return total
