"""Where the shipped default model lives (package data, from the repository's ``models/``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFAULT_MODEL_NAME = "default"


def default_model_dir() -> Path:
    """The installed ``models/default`` directory (or the checkout's, when run from source)."""
    try:
        installed = Path(str(resources.files("relion_cryodiscovery.shipped_models") / DEFAULT_MODEL_NAME))
        if installed.is_dir():
            return installed
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "models" / DEFAULT_MODEL_NAME
