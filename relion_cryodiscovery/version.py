"""The package version (one place: the package, the wheel metadata and every output's provenance read it)."""

__version__ = "0.1.0"
