"""Fast startup: `provision --help` loads neither the HTTP client nor the spec's parser."""

from __future__ import annotations

import subprocess
import sys

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
