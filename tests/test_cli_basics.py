"""`--version` and shell completion, both provided through typer."""

from __future__ import annotations

from typer.testing import CliRunner

from provision import __version__, cli


def test_version() -> None:
    result = CliRunner().invoke(cli.app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout == f"provision {__version__}\n"


def test_show_completion_bash() -> None:
    result = CliRunner().invoke(cli.app, ["--show-completion", "bash"], prog_name="provision")

    assert result.exit_code == 0, result.output
    assert "_PROVISION_COMPLETE=complete_bash" in result.stdout


def test_completion_lists_commands() -> None:
    env = {"_PROVISION_COMPLETE": "complete_bash", "COMP_WORDS": "provision re", "COMP_CWORD": "1"}
    result = CliRunner().invoke(cli.app, [], prog_name="provision", env=env)

    assert result.stdout.split() == ["render"]
