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
