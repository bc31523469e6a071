"""The software version, in one place: the package (``relion_cryodiscovery.__version__``), the wheel
metadata (pyproject.toml reads it: ``[tool.setuptools.dynamic]``), ``relion_cryodiscovery --version`` and
every output's provenance (``software: relion_cryodiscovery X.Y.Z`` in ``run.out`` and the score files).

Semantic versioning (MAJOR.MINOR.PATCH); the changes of each version are in CHANGELOG.md. The version of
the software is not the version of a model: a model's version is its card's ``model_version``
(``models/default/model_card.json`` for the shipped one), and ``--version`` prints both.
"""

__version__ = "0.10.0"
