"""The command lines teach themselves: one parser builder, a manual page with example usage per command,
help for every option, RELION-style --snake_case with the older spellings as hidden aliases."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest

from relion_cryodiscovery.cli import main as cli_main
from relion_cryodiscovery.cli.main import COMMANDS, build_parser, run_command

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_is_a_manual_page_with_example_usage_and_no_rst(command: str) -> None:
    parser, module = build_parser(command)
    text = parser.format_help()
    assert "Example usage" in text and f"relion_cryodiscovery {command} " in text.split("Example usage")[1]
    assert "``" not in text and ":func:" not in text and ":mod:" not in text
    assert callable(module.add_args) and callable(module.main)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_has_help_and_is_snake_case(command: str) -> None:
    parser, _ = build_parser(command)
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or not action.option_strings or action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings} has no help text"
        visible = action.option_strings[0]
        assert "-" not in visible[2:], f"{command} {visible} is not --snake_case"


@pytest.mark.parametrize("command, old, new, value", [
    ("train", "--init-from", "init_from", "default"),
    ("train", "--batch-size", "batch_size", "32"),
    ("train", "--val-fraction", "val_fraction", "0.2"),
    ("score", "--batch-size", "batch_size", "8"),
    ("evaluate", "--particles-truth", "particles_truth", "p.csv"),
])
def test_older_spellings_are_hidden_aliases(command: str, old: str, new: str, value: str) -> None:
    parser, _ = build_parser(command)
    required = {"train": ["--o", "m"], "score": ["--i", "x.mrcs", "--o", "d"], "evaluate": ["--pred", "p", "--truth",
                                                                                           "t", "--o", "d"]}[command]
    given_old = parser.parse_args([*required, old, value])
    given_new = parser.parse_args([*required, f"--{new}", value])
    assert getattr(given_old, new) == getattr(given_new, new) and str(getattr(given_new, new)) == value
    assert old not in parser.format_help()


def test_cryodiscovery_train_is_the_train_command() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["cryodiscovery_train"] == "relion_cryodiscovery.cli.main:train"
    assert scripts["relion_cryodiscovery"] == "relion_cryodiscovery.cli.main:main"


def test_train_entry_runs_the_train_command_under_its_own_name(capsys) -> None:
    with pytest.raises(SystemExit):
        cli_main.train(["--help"])
    assert capsys.readouterr().out.startswith("usage: cryodiscovery_train")


def test_select_without_arguments_prints_its_manual(capsys) -> None:
    assert run_command("select", []) == 0
    assert "Example usage" in capsys.readouterr().out


# --------------------------------------------------------------------------- --version

SEMVER = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"


def test_version_prints_the_software_and_the_default_model_version(capsys) -> None:
    """One line: the package's semantic version and the shipped model card's ``model_version``."""
    import json
    import re

    from relion_cryodiscovery import __version__
    from relion_cryodiscovery.model.shipped import default_model_dir

    assert re.fullmatch(SEMVER, __version__), __version__
    with pytest.raises(SystemExit) as exit_:
        cli_main.main(["--version"])
    assert exit_.value.code == 0
    model = json.loads((default_model_dir() / "model_card.json").read_text())["model_version"]
    assert capsys.readouterr().out == f"relion_cryodiscovery {__version__} (default model {model})\n"


def test_version_without_a_readable_default_model_says_so(monkeypatch, tmp_path: Path, capsys) -> None:
    from relion_cryodiscovery.model import shipped

    monkeypatch.setattr(shipped, "default_model_dir", lambda: tmp_path)
    with pytest.raises(SystemExit):
        cli_main.main(["--version"])
    assert capsys.readouterr().out.endswith("(default model not found)\n")


def test_one_version_for_the_package_the_wheel_and_the_command() -> None:
    """pyproject.toml takes the distribution's version from relion_cryodiscovery/version.py (one source),
    and the installed console script prints it (skipped when the command is not installed)."""
    import subprocess
    import sys

    from relion_cryodiscovery import __version__

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"] and "version" not in pyproject["project"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "relion_cryodiscovery.version.__version__"}
    command = Path(sys.executable).parent / "relion_cryodiscovery"
    if not command.exists():
        pytest.skip("the relion_cryodiscovery command is not installed in this environment")
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith(f"relion_cryodiscovery {__version__} (default model ")


def test_the_licence_and_the_changelog_of_this_version() -> None:
    """LICENSE is the BSD-3-Clause text pyproject.toml declares; CHANGELOG.md has an entry for this version."""
    from relion_cryodiscovery import __version__

    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "BSD-3-Clause"
    licence = (REPO / "LICENSE").read_text()
    assert licence.startswith("BSD 3-Clause License") and "CryoDiscovery developers" in licence
    assert "Neither the name of the copyright holder" in licence  # the third clause
    software = (REPO / "CHANGELOG.md").read_text().split("## Default model")[0]
    assert f"\n### {__version__} (" in software
