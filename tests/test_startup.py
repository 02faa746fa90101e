"""Fast startup: `provision --help` loads neither the HTTP client nor the spec's parser, and
`provision validate` loads no HTTP client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("requests", "urllib3", "pydantic", "yaml")
BUILD_APP = "from typer.main import get_command; get_command(provision.cli.app)"
RUN_HELP = "sys.argv = ['provision', '--help']\ntry:\n    provision.cli.main()\nexcept SystemExit:\n    pass"


@pytest.mark.parametrize("step", [BUILD_APP, RUN_HELP], ids=["build", "help"])
def test_cli_defers_heavy_imports(step: str) -> None:
    code = (
        "import sys\nimport provision.cli\n"
        f"{step}\n"
        f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr.split() == []


def test_validate_skips_http_client(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\ngroups:\n  - name: admins\n", encoding="utf-8")
    code = (
        "import sys\nimport provision.cli\n"
        f"sys.argv = ['provision', 'validate', {str(spec)!r}]\n"
        "try:\n    provision.cli.main()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "print(' '.join(name for name in ('requests', 'urllib3') if name in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "valid" in result.stdout
    assert result.stderr.split() == []
