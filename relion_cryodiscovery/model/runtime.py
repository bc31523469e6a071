"""Which runtime scores a job, decided without importing TensorFlow.

==========================================================  =====================================
situation                                                   runtime
==========================================================  =====================================
``gpus`` names GPUs (``0,1``) or logical CPUs (``cpu:N``)   TensorFlow (model worker process)
``gpus`` empty and a GPU may be visible (below)             TensorFlow (model worker process)
``gpus=cpu``, or empty and no GPU visible                   ONNX Runtime, in the job's process
the model has no usable ONNX files (:func:`.onnx_members.onnx_unavailable`)  TensorFlow, said in ``run.out``
==========================================================  =====================================

"A GPU may be visible" without TensorFlow: ``CUDA_VISIBLE_DEVICES`` is not set to ``""`` or ``-1``
and the machine has an NVIDIA device node (``/dev/nvidia0``, ...) or ROCm's ``/dev/kfd``. This errs
towards TensorFlow: a node without a working driver costs the TensorFlow start-up, never a GPU.
``CRYODISCOVERY_RUNTIME=onnx`` or ``=tensorflow`` overrides the choice (``auto``, the default, decides).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CryoDiscoveryError
from .card import ModelCard
from .onnx_members import onnx_unavailable

RUNTIME_ENV = "CRYODISCOVERY_RUNTIME"
ONNX, TENSORFLOW = "onnx", "tensorflow"


def gpu_may_be_visible(dev: Path = Path("/dev")) -> bool:
    """Whether TensorFlow could see a GPU here (see the module)."""
    cuda = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cuda is not None and cuda.strip() in ("", "-1"):
        return False
    return any(dev.glob("nvidia[0-9]*")) or (dev / "kfd").exists()


def choose_runtime(gpus: str | None, directory: Path) -> tuple[str, str]:
    """``(ONNX or TENSORFLOW, why)`` for a job on ``gpus`` with the model in ``directory``."""
    wanted = os.environ.get(RUNTIME_ENV, "auto").strip().lower() or "auto"
    if wanted not in ("auto", ONNX, TENSORFLOW):
        raise CryoDiscoveryError(None, f"{RUNTIME_ENV} must be auto, onnx or tensorflow, not {wanted!r}")
    if wanted == TENSORFLOW:
        return TENSORFLOW, f"{RUNTIME_ENV}={wanted}"
    choice = (gpus or "").strip().lower()
    if wanted == "auto" and choice not in ("", "cpu"):
        return TENSORFLOW, f"gpus {gpus}"
    if wanted == "auto" and not choice and gpu_may_be_visible():
        return TENSORFLOW, "a GPU may be visible"
    try:
        card = ModelCard.load(directory)
    except CryoDiscoveryError:  # the job reports the card's problem when it reads the card
        return ONNX, "CPU"
    reason = onnx_unavailable(card, directory)
    if reason is None:
        return ONNX, "CPU"
    if wanted == ONNX:
        raise CryoDiscoveryError(directory, f"cannot score with ONNX Runtime: {reason}")
    return TENSORFLOW, f"ONNX Runtime not used: {reason}"
