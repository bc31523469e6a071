"""Which runtime scores a job, decided without importing TensorFlow.

==========================================================  =====================================
situation                                                   runtime
==========================================================  =====================================
``gpus`` names GPUs (``0,1``) or logical CPUs (``cpu:N``)   TensorFlow (model worker process)
``gpus`` empty and a GPU may be visible (below)             TensorFlow (model worker process)
``gpus=cpu``, or empty and no GPU visible                   ONNX Runtime, in the job's process
the model has no usable ONNX files (:func:`.onnx_members.onnx_unavailable`)  TensorFlow, said in ``run.out``
==========================================================  =====================================

Without TensorFlow installed (a selection-only install, below): ``gpus`` empty is ONNX Runtime even
with a GPU visible (said in ``run.out``); every other case that needs TensorFlow is a one-line error.

A selection-only install (``pip install relion-cryodiscovery``) has ONNX Runtime and no TensorFlow
(the ``train`` extra adds it). There a job that would need TensorFlow stops before it starts, with one
line naming what to install or convert (:func:`tensorflow_missing`), except ``gpus`` empty with a GPU
visible: without TensorFlow nothing can use it, so the job scores with ONNX Runtime on the CPU.

"A GPU may be visible" without TensorFlow: ``CUDA_VISIBLE_DEVICES`` is not set to ``""`` or ``-1``
and the machine has an NVIDIA device node (``/dev/nvidia0``, ...) or ROCm's ``/dev/kfd``. This errs
towards TensorFlow: a node without a working driver costs the TensorFlow start-up, never a GPU.
``CRYODISCOVERY_RUNTIME=onnx`` or ``=tensorflow`` overrides the choice (``auto``, the default, decides).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ..errors import CryoDiscoveryError
from .card import ModelCard
from .onnx_members import onnx_unavailable

RUNTIME_ENV = "CRYODISCOVERY_RUNTIME"
ONNX, TENSORFLOW = "onnx", "tensorflow"
#: What adds TensorFlow to a selection-only install (pyproject.toml's ``train`` extra).
INSTALL_TENSORFLOW = "pip install 'relion-cryodiscovery[train]'"


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here (found without importing it)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def tensorflow_missing(needed_for: str, directory: Path | None = None) -> CryoDiscoveryError:
    """The one-line error of a job that needs TensorFlow where it is not installed."""
    return CryoDiscoveryError(directory, f"{needed_for} needs TensorFlow, which is not installed here; "
                                         f"{INSTALL_TENSORFLOW}")


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
    have_tensorflow = tensorflow_installed()
    if wanted == TENSORFLOW:
        if not have_tensorflow:
            raise tensorflow_missing(f"{RUNTIME_ENV}=tensorflow")
        return TENSORFLOW, f"{RUNTIME_ENV}={wanted}"
    choice = (gpus or "").strip().lower()
    if wanted == "auto" and choice not in ("", "cpu"):
        if not have_tensorflow:
            raise tensorflow_missing(f"gpus {gpus} (scoring on GPUs or logical CPU devices; gpus=cpu scores with "
                                     "ONNX Runtime)")
        return TENSORFLOW, f"gpus {gpus}"
    cpu = "CPU"
    if wanted == "auto" and not choice and gpu_may_be_visible():
        if have_tensorflow:
            return TENSORFLOW, "a GPU may be visible"
        cpu = "CPU; a GPU may be visible but TensorFlow, which scores on GPUs, is not installed"
    try:
        card = ModelCard.load(directory)
    except CryoDiscoveryError:  # the job reports the card's problem when it reads the card
        return ONNX, cpu
    reason = onnx_unavailable(card, directory)
    if reason is None:
        return ONNX, cpu
    if wanted == ONNX:
        raise CryoDiscoveryError(directory, f"cannot score with ONNX Runtime: {reason}")
    if not have_tensorflow:
        if importlib.util.find_spec("onnxruntime") is None:
            raise CryoDiscoveryError(None, "neither ONNX Runtime nor TensorFlow is installed: pip install onnxruntime")
        raise CryoDiscoveryError(directory, f"cannot score with ONNX Runtime ({reason}) and TensorFlow is not "
                                            f"installed: add the ONNX files where TensorFlow is installed "
                                            f"(python scripts/export_onnx.py --model {directory}), or "
                                            f"{INSTALL_TENSORFLOW}")
    return TENSORFLOW, f"ONNX Runtime not used: {reason}"
