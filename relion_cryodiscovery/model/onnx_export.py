"""Export the Keras members to ONNX (``d1.onnx`` ...) and record them in the model card (TensorFlow, tf2onnx).

Each member is converted from a ``tf.function`` of the network with every weight frozen into the
graph as a constant. Keras's ``Normalization`` layer keeps the feature mean and variance given at
construction as tensors outside its variables, which tf2onnx turns into extra graph inputs (seen with
Keras 3.15, tf2onnx 1.17); they are therefore re-created as constants inside the traced function, and
the exported graph must take exactly ``image`` and ``features``. Every export is checked against the
Keras member on random inputs before it is recorded. :mod:`.onnx_members` reads the files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..errors import CryoDiscoveryError
from .card import ModelCard, file_sha256
from .network import IMAGE_SIZE
from .onnx_members import CARD_KEY, INPUT_NAMES, onnx_name
from .vote import MEMBERS

#: ONNX opset of the exported graphs (ONNX Runtime >= 1.14 runs it).
OPSET = 17
#: Largest |ONNX - Keras| probability accepted on the check inputs.
TOLERANCE = 1e-5


def member_proto(model: keras.Model, output: str = "p_good") -> Any:
    """The ONNX ``ModelProto`` of one network: inputs ``image (N, 64, 64, 1)``, ``features (N, F)``; one
    output named ``output`` (a member's ``p_good``, the reason model's ``label_probabilities``)."""
    import tf2onnx

    n_features = int(model.input["features"].shape[-1])
    spec = [tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 1), tf.float32, name="image"),
            tf.TensorSpec((None, n_features), tf.float32, name="features")]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.Normalization)]
    values = [(np.asarray(layer.mean), np.asarray(layer.variance)) for layer in norms]

    @tf.function(input_signature=spec, autograph=False)
    def forward(image: tf.Tensor, features: tf.Tensor) -> dict[str, tf.Tensor]:
        kept = [(layer.mean, layer.variance) for layer in norms]
        try:  # the statistics as constants of this graph, not captured tensors (see the module)
            for layer, (mean, variance) in zip(norms, values):
                layer.mean, layer.variance = tf.constant(mean), tf.constant(variance)
            return {output: model({"image": image, "features": features}, training=False)}
        finally:
            for layer, (mean, variance) in zip(norms, kept):
                layer.mean, layer.variance = mean, variance

    proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET)
    names = sorted(i.name for i in proto.graph.input)
    if names != sorted(INPUT_NAMES):
        raise RuntimeError(f"the exported ONNX graph takes {names}, not only {INPUT_NAMES}")
    return proto


def _onnxruntime() -> Any:
    """ONNX Runtime, imported with what its first import writes (a device id and a telemetry session file,
    under ``$XDG_CACHE_HOME`` and ``$TMPDIR``) sent to a temporary directory removed at once, so training
    writes nothing but its outputs (a job's own process has its caches in the staging directory instead)."""
    if "onnxruntime" in sys.modules:
        return sys.modules["onnxruntime"]
    private = tempfile.mkdtemp(prefix="onnxruntime_")
    saved = {name: os.environ.get(name) for name in ("TMPDIR", "XDG_CACHE_HOME")}
    os.environ.update(TMPDIR=private, XDG_CACHE_HOME=private)
    try:
        import onnxruntime
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(private, ignore_errors=True)
    return onnxruntime


def _difference(model: keras.Model, data: bytes, seed: int = 0) -> float:
    """Largest |ONNX Runtime - Keras| probability on random check inputs."""
    ort = _onnxruntime()
    rng = np.random.default_rng(seed)
    n_features = int(model.input["features"].shape[-1])
    image = rng.normal(size=(64, IMAGE_SIZE, IMAGE_SIZE, 1)).astype(np.float32)
    features = rng.normal(size=(64, n_features)).astype(np.float32)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    onnx = session.run(None, {"image": image, "features": features})[0]
    reference = model({"image": image, "features": features}, training=False)
    return float(np.max(np.abs(onnx.reshape(-1) - np.asarray(reference).reshape(-1))))


def export_onnx(members: dict[str, keras.Model], card: ModelCard, directory: str | Path) -> dict[str, Any]:
    """Write ``d1.onnx``, ``d2.onnx``, ``d3.onnx`` of ``members`` beside their saved ``.keras`` files in
    ``directory`` and return the card's record (also set as ``card.extra["onnx"]``; the caller saves the card)."""
    import tf2onnx

    directory = Path(directory)
    files: dict[str, str] = {}
    sources: dict[str, str] = {}
    worst = 0.0
    for member in MEMBERS:
        model = members[member]
        data = member_proto(model).SerializeToString()
        worst = max(worst, _difference(model, data))
        if worst > TOLERANCE:
            raise CryoDiscoveryError(directory / onnx_name(member),
                                     f"ONNX export differs from the Keras member by {worst:.2g}")
        (directory / onnx_name(member)).write_bytes(data)
        files[onnx_name(member)] = hashlib.sha256(data).hexdigest()
        sources[f"{member}.keras"] = file_sha256(directory / f"{member}.keras")
    record = {"files": files, "sources": sources, "opset": OPSET, "exporter": f"tf2onnx {tf2onnx.__version__}",
              "max_abs_difference": worst}
    card.extra[CARD_KEY] = record
    return record
