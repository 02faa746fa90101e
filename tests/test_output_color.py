"""Coloured plan and drift text: only on a terminal, never with NO_COLOR or --no-color."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from provision import cli, output
from tests.cli_harness import ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT

GREEN, YELLOW, RED = "\x1b[32m", "\x1b[33m", "\x1b[31m"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.mark.parametrize(
    ("tty", "no_color_env", "flag", "expected"),
    [
        (True, None, False, True),
        (False, None, False, False),
        (True, "1", False, False),
        (True, "", False, True),  # no-color.org: only a non-empty value counts
        (True, None, True, False),
    ],
)
def test_use_color(
    monkeypatch: pytest.MonkeyPatch, tty: bool, no_color_env: str | None, flag: bool, expected: bool
) -> None:
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: tty)
    if no_color_env is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color_env)

    assert output.use_color(disabled=flag) is expected


def _plan(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    ProvisionRunner(fake, monkeypatch)  # sets the environment
    result = CliRunner().invoke(cli.app, ["plan", "--offline", *args, str(NPM_BLUEPRINT)], color=True)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.usefixtures("terminal")
def test_plan_colors_by_action(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    stdout = _plan(fake, monkeypatch)

    assert f'{GREEN}+ groups["Nginx Proxy Manager admins"] will be created' in stdout
    assert f'{YELLOW}~ outposts["authentik Embedded Outpost"] will be updated' in stdout
    assert RED not in stdout  # nothing is deleted


@pytest.mark.usefixtures("terminal")
def test_plan_no_color_flag(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\x1b[" not in _plan(fake, monkeypatch, "--no-color")


@pytest.mark.usefixtures("terminal")
def test_plan_no_color_env(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    assert "\x1b[" not in _plan(fake, monkeypatch)


def test_plan_plain_when_piped(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)

    assert "\x1b[" not in _plan(fake, monkeypatch)


def test_diff_lines_colored() -> None:
    line = output._paint_diff_line("      -old line", color=True)

    assert line == f"{RED}      -old line\x1b[0m"
