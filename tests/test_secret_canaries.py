"""Canary secrets never leave provision: not on stdout or stderr, in log records, crash reports or cassettes.

Every command runs at -vv and -vvv against the fake. The canaries are the API token and
values read through `!env` and `!file`. The error cases are a rejected token, a server
that echoes a value back in a 400, a 500, a connection reset and a crash.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from provision import workflow
from provision.secrets import forget_all_secrets
from tests.cli_harness import ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import REPO, write_spec

CANARY_TOKEN = "canary-token-4f9b2d7e1c8a6035e2d4b7f1"
CANARY_ENV = "canary-env-secret-8e3a1f6c9d2b7045a1"
CANARY_FILE = "canary-file-secret-2c7d9e4b1a8f3605d"
SHORT_SECRET = "pw1234"  # below the length scrubbed from free text, so masking must be structured
LITERAL_PASSWORD = "hunter2hunter2"
LONG_CANARIES = (CANARY_TOKEN, CANARY_ENV, CANARY_FILE)

SPEC = """\
version: 1
groups:
  - name: canary-group
    attributes:
      from_env: !env CANARY_ENV_SECRET
      from_file: !file canary.txt
      short: !env NPM_PASSWORD
      db_password: hunter2hunter2
    members: [akadmin]
proxy_providers:
  - name: canary-provider
    mode: forward_single
    external_host: https://canary.example.com
    authorization_flow: default-provider-authorization-implicit-consent
applications:
  - name: Canary
    slug: canary
    provider: canary-provider
    access: [canary-group]
"""

ECHOED = f"{CANARY_ENV} {CANARY_FILE} {CANARY_TOKEN}"


@dataclass(frozen=True)
class Scenario:
    args: tuple[str, ...]
    exit_code: int
    provoke: Callable[[FakeAuthentik, pytest.MonkeyPatch], None] = lambda fake, monkeypatch: None


def _bad_token(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.token = "the-token-authentik-expects"


def _echo_400(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.fail_next("POST", r"^/core/groups/$", status=400, body={"attributes": [f"invalid: {ECHOED}"]})


def _echo_short_400(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.fail_next("POST", r"^/core/groups/$", status=400, body={"attributes": [SHORT_SECRET]})


def _server_error(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.fail_next("GET", r"^/core/groups/$", status=500, body={"detail": f"crashed near {ECHOED}"})


def _reset(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
    # Three times: after each reset but the last, apply looks the group up and sends the POST again.
    fake.fail_next(
        "POST", r"^/core/groups/$", exc=requests.ConnectionError(f"reset by peer {ECHOED}"), times=3
    )


def _crash_with(message: str) -> Callable[[FakeAuthentik, pytest.MonkeyPatch], None]:
    def provoke(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> None:
        def build_plan(*args: object, **kwargs: object) -> None:
            raise RuntimeError(f"internal failure holding {message}")

        monkeypatch.setattr(workflow, "build_plan", build_plan)

    return provoke


_crash = _crash_with(ECHOED)
# Offline, provision never reads the token, so only the spec's secrets are in scope.
_crash_offline = _crash_with(f"{CANARY_ENV} {CANARY_FILE}")


SCENARIOS = {
    "validate": Scenario(("validate",), 0),
    "plan offline": Scenario(("plan", "--offline"), 0),
    "plan offline json": Scenario(("plan", "--offline", "-o", "json"), 0),
    "plan": Scenario(("plan",), 0),
    "plan json": Scenario(("plan", "-o", "json"), 0),
    "apply": Scenario(("apply", "--auto-approve"), 0),
    "drift": Scenario(("drift",), 2),
    "drift json": Scenario(("drift", "-o", "json"), 2),
    "bad token": Scenario(("plan",), 1, _bad_token),
    "bad token json": Scenario(("drift", "-o", "json"), 1, _bad_token),
    "400 echo": Scenario(("apply", "--auto-approve"), 1, _echo_400),
    "400 echo short": Scenario(("apply", "--auto-approve"), 1, _echo_short_400),
    "500": Scenario(("plan", "-o", "json"), 1, _server_error),
    "connection reset": Scenario(("apply", "--auto-approve"), 1, _reset),
    "crash": Scenario(("plan",), 70, _crash),
    "crash offline": Scenario(("plan", "--offline"), 70, _crash_offline),
}


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    """Start with no known secrets, as a fresh process does, so that nothing is scrubbed by luck."""
    forget_all_secrets()
    yield
    forget_all_secrets()


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "canary.txt").write_text(CANARY_FILE + "\n", encoding="utf-8")
    monkeypatch.setenv("CANARY_ENV_SECRET", CANARY_ENV)
    return write_spec(tmp_path, SPEC)


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ProvisionRunner:
    fake.token = CANARY_TOKEN
    runner = ProvisionRunner(fake, monkeypatch)
    monkeypatch.setenv("AUTHENTIK_TOKEN", CANARY_TOKEN)
    monkeypatch.setenv("NPM_PASSWORD", SHORT_SECRET)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # crash reports land here
    return runner


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> list[logging.LogRecord]:
    """Every log record of every logger at DEBUG, as the logging call made it, before any filter.

    The CLI gives the `provision` logger its own handler and stops propagation, so the
    capturing handler goes first on that logger as well as on the root logger.
    """
    from provision import cli

    configure = cli._configure_logging

    def configure_and_capture(verbose: int, quiet: bool) -> None:
        configure(verbose, quiet)
        logging.getLogger("provision").handlers.insert(0, caplog.handler)

    monkeypatch.setattr(cli, "_configure_logging", configure_and_capture)
    caplog.set_level(logging.DEBUG)
    return caplog.records


def leaks(text: str, canaries: tuple[str, ...] = LONG_CANARIES) -> list[str]:
    return [canary for canary in canaries if canary in text]


def log_text(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{record.getMessage()}\n{record.exc_text or ''}" for record in records)


def crash_reports(directory: Path) -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in directory.glob("provision-crash-*.txt"))


@pytest.mark.parametrize("verbosity", ["-vv", "-vvv"])
@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_no_canary_leaks(
    fake: FakeAuthentik,
    run: ProvisionRunner,
    records: list[logging.LogRecord],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    spec: Path,
    scenario: Scenario,
    verbosity: str,
) -> None:
    scenario.provoke(fake, monkeypatch)
    outcome = run(verbosity, *scenario.args, spec)
    assert outcome.exit_code == scenario.exit_code, outcome.text
    assert leaks(outcome.stdout) == []
    assert leaks(outcome.stderr) == []
    assert leaks(log_text(records)) == []
    assert leaks(crash_reports(tmp_path)) == []


@pytest.mark.parametrize(
    "args", [("plan", "--offline"), ("plan", "--offline", "-o", "json"), ("plan",), ("drift",)]
)
def test_short_secret_masked(run: ProvisionRunner, spec: Path, args: tuple[str, ...]) -> None:
    outcome = run("-vv", *args, spec)
    assert leaks(outcome.text, (SHORT_SECRET,)) == []


def test_short_secret_echoed_alone_scrubbed(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch, spec: Path
) -> None:
    _echo_short_400(fake, monkeypatch)
    outcome = run("-vv", "apply", "--auto-approve", spec)
    assert leaks(outcome.text, (SHORT_SECRET,)) == []


@pytest.mark.parametrize("args", [("plan", "--offline"), ("plan", "--offline", "-o", "json"), ("plan",)])
def test_literal_password_masked(run: ProvisionRunner, spec: Path, args: tuple[str, ...]) -> None:
    outcome = run(*args, spec)
    assert LITERAL_PASSWORD not in outcome.stdout


def test_literal_password_warns(run: ProvisionRunner, spec: Path) -> None:
    outcome = run("plan", "--offline", spec)
    assert (
        'groups["canary-group"].attributes.db_password looks like a password written in the spec; '
        "use `!env NAME` or `!file PATH`"
    ) in outcome.stdout


def test_crash_report_written(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec: Path
) -> None:
    _crash(fake, monkeypatch)
    run("plan", spec)
    assert "RuntimeError: internal failure holding ***" in crash_reports(tmp_path)


def test_secret_values_sent(fake: FakeAuthentik, run: ProvisionRunner, spec: Path) -> None:
    """The canaries are real values: masked in output, yet sent to authentik as they are."""
    run("apply", "--auto-approve", spec)
    attributes = fake.find("group", name="canary-group")["attributes"]
    assert (attributes["from_env"], attributes["from_file"], attributes["short"]) == (
        CANARY_ENV,
        CANARY_FILE,
        SHORT_SECRET,
    )


@pytest.mark.parametrize("path", sorted((REPO / "cassettes").rglob("*")), ids=str)
def test_cassettes_hold_no_canary(path: Path) -> None:
    if path.is_file():
        assert leaks(path.read_text(encoding="utf-8"), (*LONG_CANARIES, LITERAL_PASSWORD)) == []


def test_offline_crash_scrubs_token(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec: Path
) -> None:
    _crash(fake, monkeypatch)
    run("plan", "--offline", spec)
    assert leaks(crash_reports(tmp_path), (CANARY_TOKEN,)) == []
