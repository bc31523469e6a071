"""The command line RELION builds for an External job, as an argparse parser and as JobParameters.

RELION runs ``<exe> --o External/jobNNN/ [--in_parts F] [--in_*] [--<label> [value]]... --j N
[other_args]`` through ``/bin/sh`` without quoting: a value may be absent, and a value with
spaces arrives as several tokens (joined back here). ``--pipeline_control DIR`` (or
``--pipeline-control``) may be appended and is ignored; unknown labels are kept and reported.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from ..errors import CryoDiscoveryError
from ..pipeline import JobParameters

INPUT_FLAGS = ("in_parts", "in_mics", "in_movies", "in_coords", "in_3dref", "in_mask")
IGNORED = ("pipeline_control",)

#: The External tab's Params (label -> help), as RELION passes them (``--label value``).
PARAMETER_HELP = {
    "min_score": "keep classes with calibrated P(good) >= this, an absolute override of strictness (default: none)",
    "strictness": "lenient, balanced or strict: the model's operating point; balanced and strict also drop classes "
                  "well below the job's near-certain best classes that look unlike them (coarser, emptier at the "
                  "centre and a little coarser, or a blob; strict by smaller margins); lenient has no job-relative "
                  "bar; in a weak job (an early round) balanced and lenient also keep classes that look like its best "
                  "ones (default balanced)",
    "contrast": "auto (detect protein-dark classes and score them flipped), normal or inverted (default auto)",
    "min_particles": "drop classes with fewer particles (default 0)",
    "min_classes": "keep at least this many best-scoring classes (default 0)",
    "model": "model directory with d1/d2/d3.keras and model_card.json (default: the shipped model)",
    "gpus": "empty = all visible GPUs, 'cpu' = CPU only, or a list such as 0,1",
    "batch_size": "classes per inference batch (default 256)",
    "relion_version": "auto (from job.star), 3.1, 4.0 or 5.0: which node labels to write",
    "montage": "yes/no: write cryodiscovery_montage.png (default yes)",
    "angpix": "pixel size in Angstrom for a bare .mrcs stack (score only)",
    "groups": "0 = off, N or auto: group the kept 2D classes by structure (a mixture of complexes or "
              "conformations) and write particles_group_N.star per group; auto splits only clearly separate "
              "groups (default 0)",
}


@dataclass
class ExternalArguments:
    out_dir: str
    inputs: dict[str, str]
    parameters: JobParameters
    raw: dict[str, str] = field(default_factory=dict)


def add_external_args(parser: argparse.ArgumentParser) -> None:
    """RELION's External-job options. Each takes any number of tokens (joined with a space; none = "")."""
    parser.add_argument("--o", nargs="*", metavar="DIR", help="output directory (RELION passes External/jobNNN/)")
    parser.add_argument("--in_parts", nargs="*", metavar="FILE",
                        help="the Class2D/Class3D run_itNNN_data.star (also: its _model.star, _optimiser.star "
                             "or the job directory: the last iteration)")
    for name in INPUT_FLAGS[1:]:
        parser.add_argument(f"--{name}", nargs="*", help=argparse.SUPPRESS)
    params = parser.add_argument_group("RELION External-tab Params (label = value)")
    for name, text in PARAMETER_HELP.items():
        params.add_argument(f"--{name}", nargs="*", metavar="VALUE", help=text)
    params.add_argument("--j", nargs="*", metavar="N", help="TensorFlow CPU threads (RELION's 'Number of threads')")
    parser.add_argument("--pipeline_control", "--pipeline-control", nargs="*", help=argparse.SUPPRESS)


def tokenize(argv: list[str]) -> dict[str, str]:
    """``--name v1 v2 --flag --other x`` -> {"name": "v1 v2", "flag": "", "other": "x"} (last one wins)."""
    values: dict[str, str] = {}
    name: str | None = None
    for token in argv:
        if token.startswith("--") and len(token) > 2:
            name = token[2:]
            if "=" in name:
                name, value = name.split("=", 1)
                values[name] = value
                name = None
                continue
            values[name] = ""
        elif name is not None:
            values[name] = f"{values[name]} {token}".strip()
        else:
            raise CryoDiscoveryError(None, f"unexpected argument {token!r} (options start with --)")
    return values


def _number(values: dict[str, str], name: str, kind: type, default):
    text = values.get(name, "")
    if text == "":
        return default
    try:
        return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
    except (ValueError, OverflowError):
        raise CryoDiscoveryError(None, f"--{name} needs {'an int' if kind is int else 'a float'}, not {text!r}") from None


def _boolean(values: dict[str, str], name: str, default: bool) -> bool:
    text = values.get(name)
    if text is None:
        return default
    if text.lower() in ("", "yes", "y", "true", "1", "on"):
        return True
    if text.lower() in ("no", "n", "false", "0", "off"):
        return False
    raise CryoDiscoveryError(None, f"--{name} must be yes or no, not {text!r}")


def external_values(args: argparse.Namespace, unknown: list[str]) -> dict[str, str]:
    """Every label given -> its value (tokens joined), known ones from ``args``, the rest from ``unknown``."""
    values = tokenize(unknown)
    known = {"o", *INPUT_FLAGS, *PARAMETER_HELP, "j", *IGNORED}
    values.update({name: " ".join(tokens) for name, tokens in vars(args).items()
                   if name in known and tokens is not None})
    return values


def external_arguments(values: dict[str, str], require_input: bool = True) -> ExternalArguments:
    """Output dir, inputs and validated parameters from :func:`external_values`."""
    values = dict(values)
    out_dir = values.pop("o", "")
    if not out_dir:
        raise CryoDiscoveryError(None, "--o OUTPUT_DIR is required (RELION passes --o External/jobNNN/)")
    inputs = {name: values.pop(name) for name in INPUT_FLAGS if name in values}
    if require_input and not inputs.get("in_parts"):
        raise CryoDiscoveryError(None, "--in_parts is required: the Class2D/Class3D run_itNNN_data.star")
    for name in IGNORED:
        values.pop(name, None)
    parameters = JobParameters(
        min_score=_number(values, "min_score", float, None),
        strictness=values.get("strictness") or "balanced",
        contrast=values.get("contrast") or "auto",
        min_particles=_number(values, "min_particles", int, 0),
        min_classes=_number(values, "min_classes", int, 0),
        model=values.get("model") or None,
        gpus=values.get("gpus", ""),
        batch_size=_number(values, "batch_size", int, 256),
        relion_version=values.get("relion_version") or "auto",
        threads=_number(values, "j", int, None),
        montage=_boolean(values, "montage", True),
        angpix=_number(values, "angpix", float, None),
        groups=values.get("groups") or 0,
    )
    parameters.unknown = {k: v for k, v in values.items() if k not in PARAMETER_HELP and k != "j"}
    parameters.validate()
    return ExternalArguments(out_dir=out_dir, inputs=inputs, parameters=parameters, raw=values)


def external_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """A parser of RELION's External-job options alone (abbreviations off: RELION labels are exact)."""
    parser = argparse.ArgumentParser(prog=prog, allow_abbrev=False)
    add_external_args(parser)
    return parser


def parse_external(argv: list[str], require_input: bool = True) -> ExternalArguments:
    """RELION External-job arguments -> output dir, inputs and validated parameters."""
    args, unknown = external_parser().parse_known_args(argv)
    return external_arguments(external_values(args, unknown), require_input)
