"""``model_card.json``: everything needed to use and audit a trained ensemble, as plain JSON."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import CryoDiscoveryError

CARD_FILENAME = "model_card.json"
#: Fields of :class:`ModelCard` that describe where it was read from, not the model (not in the JSON).
_NOT_WRITTEN = ("directory",)
#: Bump when a field changes meaning; loaders refuse other versions.
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
#: The ``strictness`` settings, most lenient first; ``balanced`` is the default.
STRICTNESS_LEVELS: tuple[str, ...] = ("lenient", "balanced", "strict")
#: ``strict`` on cards without operating points (before 0.6.0): the threshold plus this job-relative gap.
DEFAULT_STRICT_GAP = 3.0


@dataclass
class ModelCard:
    """Provenance, inputs, calibration and validation of one :class:`BoostedEnsemble`."""

    #: Version of this JSON layout (:data:`FORMAT_VERSION`).
    format_version: int
    #: Free-form model version, e.g. "2026.11-sim1".
    model_version: str
    #: ISO 8601 UTC creation time.
    created: str
    #: Parameters of the image preprocessing the model was trained with (``PreprocessConfig``).
    preprocessing: dict[str, Any]
    #: Feature names in input order (values; the flags follow in the same order).
    feature_names: list[str]
    #: Fill value of each feature (what a missing value is replaced with).
    feature_fills: list[float]
    #: Width F of the network's feature input (values + flags).
    n_features: int
    #: ``NetworkConfig`` as a dict.
    network: dict[str, Any]
    #: Calibration parameters (``PlattCalibration.to_dict()``).
    calibration: dict[str, Any]
    #: Shipped selection threshold on the calibrated score.
    threshold: float
    #: How the threshold was chosen, in words.
    threshold_rule: str
    #: Training data summary: counts, jobs, stage set sizes, ``files`` {path: sha256}.
    training_data: dict[str, Any]
    #: Validation metrics at the shipped threshold (calibrated scores).
    validation_metrics: dict[str, float]
    #: Expected calibration error of the calibrated validation scores.
    ece: float
    #: Anything else (training configuration, boosting rules, library versions).
    extra: dict[str, Any] = field(default_factory=dict)
    #: The model directory this card was read from (set by :meth:`load`, never written): where the
    #: files the card names beside itself live (e.g. the domain check's ``domain_reference.npz``).
    directory: Path | None = field(default=None, compare=False, repr=False)

    def operating_point(self, strictness: str = "balanced") -> dict[str, float | None]:
        """What ``strictness`` means for this model: ``min_score``, ``relative_gap`` (None: no job-relative
        bar), ``relative_from`` (the bar applies to jobs whose best classes score at least this) and
        ``relative_detail`` and ``relative_centre`` (it drops only classes this much coarser than the best, or
        this much emptier at the centre, the latter only when also ``centre_detail`` coarser; both None: every
        class below it), ``blob_detail`` and ``blob_centre`` (... or both this much coarser and this much
        denser at the centre); ``lower_gap``, ``lower_below`` and ``lower_from``: a weak job's lowered bar
        (None: none, or the rule's default bounds; :func:`relion_cryodiscovery.selection.lowered_bar`).

        From ``extra["decision"]`` (models from 0.6.0, each with its measured figures); older cards:
        ``lenient`` and ``balanced`` are the calibrated threshold, ``strict`` adds :data:`DEFAULT_STRICT_GAP`.
        """
        if strictness not in STRICTNESS_LEVELS:
            raise CryoDiscoveryError(None, f"strictness must be one of {', '.join(STRICTNESS_LEVELS)}, not {strictness!r}")
        point = self.extra.get("decision", {}).get(strictness)
        if point is None:
            point = {"min_score": self.threshold, "relative_gap": DEFAULT_STRICT_GAP if strictness == "strict" else None}
        def number(key: str) -> float | None:
            return None if point.get(key) is None else float(point[key])

        return {"min_score": float(point["min_score"]), "relative_gap": number("relative_gap"),
                "relative_from": float(point.get("relative_from", 0.0)),
                "relative_detail": number("relative_detail"), "relative_centre": number("relative_centre"),
                "blob_detail": number("blob_detail"), "blob_centre": number("blob_centre"),
                "centre_detail": number("centre_detail"), "lower_gap": number("lower_gap"),
                "lower_below": number("lower_below"), "lower_from": number("lower_from")}

    def to_json(self) -> str:
        values = {k: v for k, v in asdict(self).items() if k not in _NOT_WRITTEN}
        return json.dumps(_json_safe(values), indent=2, sort_keys=False, allow_nan=False)

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/model_card.json``; return its path."""
        path = Path(directory) / CARD_FILENAME
        path.write_text(self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ModelCard":
        """Read a card file (or a model directory); clear error naming the file when invalid."""
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILENAME
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError:
            raise CryoDiscoveryError(path, "model card not found") from None
        except json.JSONDecodeError as exc:
            raise CryoDiscoveryError(path, f"model card is not valid JSON ({exc})") from None
        if not isinstance(values, dict):
            raise CryoDiscoveryError(path, "model card must be a JSON object")
        version = values.get("format_version")
        if version not in SUPPORTED_FORMAT_VERSIONS:
            raise CryoDiscoveryError(
                path,
                f"unknown model card format_version {version!r} "
                f"(this CryoDiscovery reads {SUPPORTED_FORMAT_VERSIONS})",
            )
        names = [f.name for f in fields(cls) if f.name not in _NOT_WRITTEN]
        required = [name for name in names if name != "extra"]
        missing = [name for name in required if name not in values]
        if missing:
            raise CryoDiscoveryError(path, f"model card lacks field(s) {', '.join(missing)}")
        card = cls(**{name: _json_restore(values[name]) for name in names if name in values}, directory=path.parent)
        n_names = len(card.feature_names)
        if card.n_features != 2 * n_names or len(card.feature_fills) != n_names:
            raise CryoDiscoveryError(
                path,
                f"model card is inconsistent: n_features={card.n_features}, "
                f"{len(card.feature_names)} feature names, {len(card.feature_fills)} fills",
            )
        return card


def utc_now() -> str:
    """Current UTC time as ISO 8601 (seconds)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_safe(value: Any) -> Any:
    """NaN/inf -> strings "nan"/"inf" (JSON has no NaN); numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _json_restore(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_restore(v) for v in value]
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return value
