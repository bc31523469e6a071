"""The ensemble's members on ONNX Runtime: CPU inference without TensorFlow.

A model directory carries ``d1.onnx``, ``d2.onnx`` and ``d3.onnx`` beside the ``.keras`` members
(written by training and by ``scripts/export_onnx.py``, :mod:`.onnx_export`), and its card records
them in ``extra["onnx"]``: ``files`` {name: sha256}, ``sources`` {the ``.keras`` each was exported
from: sha256}, the opset and the exporter. The ONNX files are used only when every recorded checksum
matches, so an ``.onnx`` file older than its ``.keras`` member is never used
(:func:`onnx_unavailable` says why not, and the job falls back to TensorFlow).

Loading is safe: an ONNX file is a graph of standard operators and constant weights (data, no code;
ONNX Runtime runs custom operators only from libraries registered by the caller, and none is). Each
file's bytes are read once, checked against the card's checksum and handed to ONNX Runtime as
bytes (so no external-data file is ever read), and the graph must take exactly the network's two
inputs. The score rule is :func:`.vote.predict`, the one the TensorFlow path runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CryoDiscoveryError
from .card import ModelCard, file_sha256
from .vote import MEMBERS, EnsembleScores, Forward, predict as vote_predict

#: The card's entry (in ``extra``) recording the ONNX files.
CARD_KEY = "onnx"
#: The graph's inputs, as the Keras network names them (``network.build_network``).
INPUT_NAMES = ("image", "features")


def onnx_name(member: str) -> str:
    return f"{member}.onnx"


def onnx_unavailable(card: ModelCard, directory: Path) -> str | None:
    """Why the model in ``directory`` cannot run on ONNX Runtime here (None: it can)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return "ONNX Runtime (pip package onnxruntime) is not installed"
    record = card.extra.get(CARD_KEY)
    if not isinstance(record, dict) or not record.get("files"):
        return "its model card records no ONNX files (`python scripts/export_onnx.py --model DIR` adds them)"
    for member in MEMBERS:
        if not (directory / onnx_name(member)).is_file() or onnx_name(member) not in record["files"]:
            return f"{onnx_name(member)} is missing or not recorded in the model card"
        source = f"{member}.keras"
        recorded = record.get("sources", {}).get(source)
        if recorded is None or not (directory / source).is_file() or file_sha256(directory / source) != recorded:
            return f"{source} is not the file {onnx_name(member)} was exported from (checksum in the model card)"
    return None


def _session(path: Path, expected_sha256: str, threads: int | None) -> Any:
    """An ONNX Runtime session of ``path`` after its checksum and its inputs are checked."""
    import onnxruntime as ort

    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise CryoDiscoveryError(path, "checksum differs from the model card's; refusing to load it")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: nothing in run.err on success
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = int(threads)
    try:
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own types for bad graphs
        raise CryoDiscoveryError(path, f"cannot load ONNX model ({type(exc).__name__}: {exc})") from None
    names = sorted(i.name for i in session.get_inputs())
    if names != sorted(INPUT_NAMES) or len(session.get_outputs()) != 1:
        raise CryoDiscoveryError(path, f"ONNX graph must take exactly {INPUT_NAMES} and give one output, "
                                       f"it takes {names}")
    return session


@dataclass
class OnnxMembers:
    """:class:`.vote.Members` as ONNX Runtime sessions, one per member."""

    sessions: dict[str, Any]

    def forward(self, names: Sequence[str]) -> Forward:
        sessions = [self.sessions[name] for name in names]

        def run(views: np.ndarray, features: np.ndarray) -> np.ndarray:
            feeds = {"image": np.ascontiguousarray(views[..., None], dtype=np.float32),
                     "features": np.ascontiguousarray(features, dtype=np.float32)}
            return np.concatenate([s.run(None, feeds)[0].reshape(len(views), 1) for s in sessions], axis=1)

        return run


@dataclass
class OnnxEnsemble:
    """The ensemble scored by ONNX Runtime on the CPU; :meth:`predict` as ``BoostedEnsemble.predict``."""

    card: ModelCard
    members: OnnxMembers

    @classmethod
    def load(cls, directory: str | Path, threads: int | None = None) -> "OnnxEnsemble":
        """The ONNX members of ``directory`` (refused with a clear error unless :func:`onnx_unavailable` is None)."""
        directory = Path(directory)
        card = ModelCard.load(directory)
        reason = onnx_unavailable(card, directory)
        if reason is not None:
            raise CryoDiscoveryError(directory, f"cannot score with ONNX Runtime: {reason}")
        files = card.extra[CARD_KEY]["files"]
        sessions = {m: _session(directory / onnx_name(m), files[onnx_name(m)], threads) for m in MEMBERS}
        for member, session in sessions.items():
            width = dict((i.name, i.shape) for i in session.get_inputs())["features"][-1]
            if isinstance(width, int) and width != card.n_features:
                raise CryoDiscoveryError(directory / onnx_name(member),
                                         f"expects {width} features but the model card says {card.n_features}")
        return cls(card, OnnxMembers(sessions))

    def predict(
        self, images: np.ndarray, features: np.ndarray, batch_size: int = 256, strategy: object = None,
        should_abort: Callable[[], bool] | None = None,
    ) -> EnsembleScores:
        """Score K classes (``strategy`` is TensorFlow's and unused here); :func:`.vote.predict`."""
        return vote_predict(self.members, self.card, images, features, batch_size, should_abort)
