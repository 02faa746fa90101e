"""`provision validate` with several files, and the pre-commit hook that calls it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from provision import cli
from tests.helpers import NPM_BLUEPRINT, REPO, write_spec

GOOD = "version: 1\ngroups: [{name: a}]\n"


def _validate(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, ["validate", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_validate_one_file_output_unchanged(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, GOOD)

    assert _validate(spec) == (0, f"{spec}: valid (1 groups).\n", "")


def test_validate_several_files(tmp_path: Path) -> None:
    first, second = write_spec(tmp_path, GOOD, "a.yaml"), write_spec(tmp_path, GOOD, "b.yaml")

    code, stdout, _ = _validate(first, second)

    assert code == 0
    assert stdout.splitlines() == [f"{first}: valid (1 groups).", f"{second}: valid (1 groups)."]


def test_validate_reports_each_bad_file(tmp_path: Path) -> None:
    good = write_spec(tmp_path, GOOD, "good.yaml")
    bad = write_spec(tmp_path, "version: 1\ngroups: [{nme: a}]\n", "bad.yaml")

    code, stdout, stderr = _validate(bad, good)

    assert code == 1
    assert stdout == f"{good}: valid (1 groups).\n"
    assert f"{bad}: invalid" in stderr
    assert "unknown key 'nme'" in stderr
    assert stderr.endswith("1 of 2 spec files are invalid.\n")


def test_validate_env_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NPM_USERNAME", raising=False)
    monkeypatch.delenv("NPM_PASSWORD", raising=False)

    assert _validate(NPM_BLUEPRINT)[0] == 1
    code, stdout, _ = _validate("--env-placeholders", NPM_BLUEPRINT)

    assert code == 0, stdout
    assert "NPM_PASSWORD" not in os.environ


def test_precommit_hook_manifest() -> None:
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))

    assert hook["id"] == "provision-validate"
    assert hook["language"] == "python"
    assert hook["entry"].split()[:2] == ["provision", "validate"]
    assert re.search(hook["files"], "blueprints/nginx-proxy-manager.yaml")
    assert not re.search(hook["files"], ".github/workflows/ci.yml")
    code, _, stderr = _validate(*hook["entry"].split()[2:], NPM_BLUEPRINT)
    assert code == 0, stderr
