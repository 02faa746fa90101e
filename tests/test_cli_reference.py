"""docs/cli.md is generated from --help; every command and option has help text."""

from __future__ import annotations

from typing import Any

import typer

from provision.cli import app
from provision.docs import REFERENCE_PATH, command_paths, render_reference
from tests.helpers import REPO


def test_cli_reference_is_current() -> None:
    shipped = (REPO / REFERENCE_PATH).read_text(encoding="utf-8")

    assert shipped == render_reference(), "regenerate it: python -m provision.docs"


def test_reference_covers_every_command() -> None:
    shipped = (REPO / REFERENCE_PATH).read_text(encoding="utf-8")

    for words in command_paths():
        assert f"## `provision {' '.join(words)}`" in shipped


def _commands(command: Any, path: str = "provision") -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, f"{path} {name}")
    return found


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, command in _commands(typer.main.get_command(app)):
        if not (command.help or "").strip():
            missing.append(path)
        for param in command.params:
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{path} {param.name}")

    assert missing == []
