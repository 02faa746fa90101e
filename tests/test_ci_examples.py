"""The CI and cron examples in docs/examples: valid files that call only real commands and options."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from provision.cli import app
from tests.helpers import REPO

EXAMPLES = REPO / "docs" / "examples"
WORKFLOWS = [EXAMPLES / "github-actions.yml", EXAMPLES / "gitlab-ci.yml"]
CRON = EXAMPLES / "provision-drift-cron.sh"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _invocations(text: str) -> list[list[str]]:
    """The words after each `provision` that starts a shell command."""
    found = []
    for match in re.finditer(r"(?:^|[;&|(]\s*|\$\(\s*)provision\s+([^\n;&|)>]*)", text, re.M):
        found.append(shlex.split(match.group(1)))
    return found


def _check(words: list[str]) -> None:
    command: Any = typer.main.get_command(app)
    path = ["provision"]
    for word in words:
        if word.startswith("-"):
            known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
            assert word.split("=")[0] in known, f"{' '.join(path)} has no option {word}"
        elif hasattr(command, "commands") and word in command.commands:
            command = command.commands[word]
            path.append(word)
    assert len(path) > 1, f"no command in: provision {' '.join(words)}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_is_yaml_and_calls_real_options(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    calls = [words for text in _strings(document) for words in _invocations(text)]

    assert {words[0] for words in calls} >= {"validate", "plan", "apply", "drift"}
    for words in calls:
        _check(words)


def test_workflows_post_markdown_and_auto_approve() -> None:
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        assert "--output markdown > plan.md" in text
        assert 'provision apply "$SPEC" --auto-approve' in text


def test_cron_script_calls_real_options() -> None:
    calls = _invocations(CRON.read_text(encoding="utf-8"))

    assert calls and all(words[0] == "drift" for words in calls)
    for words in calls:
        _check(words)


def test_cron_script_syntax() -> None:
    shell = shutil.which("sh")
    if shell is None:
        pytest.skip("no sh")
    result = subprocess.run([shell, "-n", str(CRON)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr


def test_check_catches_unknown_option() -> None:
    with pytest.raises(AssertionError, match="has no option --nope"):
        _check(["plan", "--nope", "spec.yaml"])
