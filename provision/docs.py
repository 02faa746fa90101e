"""Generate docs/cli.md, the command-line reference, from the commands' `--help`.

Run `python -m provision.docs` to rewrite the file; a test fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from provision.cli import app

REFERENCE_PATH = Path("docs/cli.md")
HEADER = """\
# Command-line reference

Generated from `provision --help` by `python -m provision.docs`; do not edit by hand.
"""


def command_paths(group: typer.Typer = app, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command as the words that call it, sub-commands after their group."""
    paths: list[tuple[str, ...]] = []
    for command in group.registered_commands:
        if not command.hidden:
            name = command.name or (command.callback.__name__.replace("_", "-") if command.callback else "")
            paths.append((*prefix, name))
    for sub in group.registered_groups:
        if sub.typer_instance is None:
            continue
        group_name = sub.name or sub.typer_instance.info.name
        if isinstance(group_name, str):
            paths.append((*prefix, group_name))
            paths += command_paths(sub.typer_instance, (*prefix, group_name))
    return paths


def help_text(words: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], prog_name="provision", terminal_width=100)
    if result.exit_code != 0:
        raise RuntimeError(f"provision {' '.join(words)} --help failed: {result.output}")
    return result.output.rstrip()


def render_reference() -> str:
    sections = [HEADER]
    for words in [(), *command_paths()]:
        title = " ".join(("provision", *words))
        sections.append(f"## `{title}`\n\n```text\n{help_text(words)}\n```\n")
    return "\n".join(sections)


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE_PATH
    target.write_text(render_reference(), encoding="utf-8")


if __name__ == "__main__":
    main()
