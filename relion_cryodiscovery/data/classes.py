"""The :class:`ClassSet` of :mod:`relion_cryodiscovery.relion.classes`, under its older import path.

Kept only for modules that still import it from here (``simulate/lab_classes.py``); new code
imports ``relion_cryodiscovery.relion.classes``.
"""

from __future__ import annotations

from ..relion.classes import MODEL_CLASS_COLUMNS, ClassSet

__all__ = ["ClassSet", "MODEL_CLASS_COLUMNS"]
