"""Run the `provision` CLI in-process against a fake authentik."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from provision import cli
from provision.api import client as client_module
from provision.secrets import forget_all_secrets
from tests.fake_authentik import FakeAuthentik

CANARY_USERNAME = "canary-user-7f3a9c@example.com"
CANARY_PASSWORD = "canary-password-5d1e8b"


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


class ProvisionRunner:
    """Invokes the CLI with the fake's URL and token in the environment."""

    def __init__(self, fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fake = fake
        monkeypatch.setattr(client_module, "new_session", fake.session)
        monkeypatch.setenv("AUTHENTIK_URL", fake.base_url)
        monkeypatch.setenv("AUTHENTIK_TOKEN", fake.token)
        monkeypatch.setenv("NPM_USERNAME", CANARY_USERNAME)
        monkeypatch.setenv("NPM_PASSWORD", CANARY_PASSWORD)
        monkeypatch.delenv("AUTHENTIK_INSECURE", raising=False)

    def __call__(self, *args: str, input: str | None = None) -> Outcome:
        # Each real invocation is a new process with an empty secret registry.
        forget_all_secrets()
        result = CliRunner().invoke(cli.app, [str(arg) for arg in args], input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)
