"""``relion_cryodiscovery``: one command, a subcommand per task (one module each)."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

#: subcommand -> (module, one-line description)
COMMANDS = {
    "select": ("select", "the External job outside RELION: score a Class2D/Class3D job and write the selection"),
    "score": ("score", "score a _model.star/_optimiser.star/_data.star or a bare .mrcs stack"),
    "train": ("train", "train or fine-tune the boosted ensemble from RELION Select jobs"),
    "evaluate": ("evaluate", "compare a selection with ground truth: metrics, plots, FSC"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="relion_cryodiscovery", description=__doc__)
    parser.add_argument("--version", action="version", version=f"relion_cryodiscovery {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, text) in COMMANDS.items():
        commands.add_parser(name, help=text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(f"relion_cryodiscovery.cli.{COMMANDS[name][0]}")
    if name == "select":  # takes RELION's External-job flags verbatim
        return module.main(rest)
    sub = argparse.ArgumentParser(prog=f"relion_cryodiscovery {name}", description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(sub)
    return module.run(sub.parse_args(rest))


if __name__ == "__main__":
    sys.exit(main())
