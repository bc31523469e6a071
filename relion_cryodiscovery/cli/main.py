"""relion_cryodiscovery: automatic 2D/3D class selection for RELION, one subcommand per task.

Each subcommand is one module of relion_cryodiscovery.cli with add_args(parser) and main(args);
its docstring is its manual page (relion_cryodiscovery COMMAND --help).

Example usage
-------------
  relion_cryodiscovery select --o External/job011/ --in_parts Class2D/job010/run_it025_data.star
  relion_cryodiscovery score --i Class2D/job010/run_it025_model.star --o scored/
  relion_cryodiscovery train --project . --init_from default --o my_model
  relion_cryodiscovery evaluate --pred External/job011/ --truth Select/job012/ --o evaluation/
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

from ..version import __version__

#: subcommand -> one-line description (the module is relion_cryodiscovery.cli.<subcommand>)
COMMANDS = {
    "select": "the External job outside RELION: score a Class2D/Class3D job and write the selection",
    "score": "score a _model.star/_optimiser.star/_data.star or a bare .mrcs stack",
    "train": "train or fine-tune the boosted ensemble from RELION Select jobs",
    "evaluate": "compare a selection with ground truth: metrics, plots, FSC",
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Manual-page description as written (with its Example usage), defaults shown where set."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        unset = default is None or default is argparse.SUPPRESS or default in ("", [])
        if not unset and action.nargs != 0 and "default" not in text:  # nargs 0: a flag
            text += " (default: %(default)s)"
        return text


def build_parser(command: str, prog: str | None = None) -> tuple[argparse.ArgumentParser, ModuleType]:
    """The parser of one subcommand (its module's docstring as description, its add_args), and the module."""
    module = importlib.import_module(f"{__package__}.{command}")
    parser = argparse.ArgumentParser(prog=prog or f"relion_cryodiscovery {command}", description=module.__doc__,
                                     formatter_class=_HelpFormatter, allow_abbrev=False)
    module.add_args(parser)
    return parser, module


def run_command(command: str, argv: list[str], prog: str | None = None) -> int:
    """Parse ``argv`` for ``command`` and run its main. ``select`` takes RELION's External-job labels,
    so unknown ``--label value`` pairs reach it (as ``args.unknown``) instead of failing the parse, and
    without arguments it prints its manual."""
    parser, module = build_parser(command, prog)
    if command == "select" and not argv:  # RELION always passes --o; a person typing the name gets the manual
        parser.print_help()
        return 0
    if command == "select":
        args, args.unknown = parser.parse_known_args(argv)
    else:
        args = parser.parse_args(argv)
    return module.main(args)


#: Keyword arguments of add_argument that a hidden alias shares with its option.
_ALIAS_SHARES = ("action", "type", "nargs", "choices", "const")


def option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, name: str, **kwargs) -> None:
    """A RELION-style ``--snake_case`` option, and its ``--kebab-case`` spelling as an alias that
    ``--help`` does not list (the spelling earlier versions used, e.g. --batch-size, --init-from)."""
    action = parser.add_argument(name, **kwargs)
    alias = name.replace("_", "-")
    if alias != name:
        shared = {key: kwargs[key] for key in _ALIAS_SHARES if key in kwargs}
        parser.add_argument(alias, dest=action.dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **shared)


def default_model_version() -> str:
    """The ``model_version`` of the shipped default model's card ("not found" when it cannot be read)."""
    import json

    from ..model.shipped import default_model_dir

    try:
        return str(json.loads((default_model_dir() / "model_card.json").read_text())["model_version"])
    except (OSError, ValueError, KeyError, TypeError):
        return "not found"


def version_text() -> str:
    """``relion_cryodiscovery 0.6.0 (default model 0.6.0)``: what ``--version`` prints (one line, as the
    CCP-EM pipeliner records a program's version command)."""
    return f"relion_cryodiscovery {__version__} (default model {default_model_version()})"


def main(argv: list[str] | None = None) -> int:
    """``relion_cryodiscovery COMMAND ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="relion_cryodiscovery", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=version_text(),
                        help="print the software version and the shipped default model's version, then exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in COMMANDS.items():
        commands.add_parser(name, help=text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv or ["--help"])
        return 2
    return run_command(argv[0], argv[1:])


def train(argv: list[str] | None = None) -> int:
    """``cryodiscovery_train``: the same command as ``relion_cryodiscovery train`` (the CCP-EM pipeliner runs it)."""
    return run_command("train", list(sys.argv[1:] if argv is None else argv), prog="cryodiscovery_train")


if __name__ == "__main__":
    sys.exit(main())
