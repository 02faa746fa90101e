"""The tool against a real authentik: live with AUTHENTIK_URL and AUTHENTIK_TOKEN, else from cassettes.

Record new cassettes with:
    AUTHENTIK_URL=... AUTHENTIK_TOKEN=... PROVISION_RECORD=1 ./run-tests -m live
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from provision.api import client as client_module
from provision.api.releases import Release
from tests import live_scenarios as scenario
from tests.fake_authentik import RequestValidator
from tests.live_support import (
    CASSETTES,
    LIVE_CANARY_PASSWORD,
    LIVE_CANARY_USERNAME,
    SECRET_ENV,
    ValidatingAdapter,
    live_settings,
    read_meta,
    recorded_releases,
    recording,
    schema_release,
    scrubbing_vcr,
    write_meta,
)
from tests.npm_standin import npm_standin

LIVE = live_settings()
skip_without_server = pytest.mark.skipif(
    LIVE is None, reason="live tests need AUTHENTIK_URL and AUTHENTIK_TOKEN of a real authentik"
)


class Harness:
    """One run against one server: its session, validator, CLI environment and cassettes."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        url: str,
        token: str,
        version: str,
        *,
        replay: bool,
        record: bool,
    ) -> None:
        self.release_name = schema_release(version)
        self.series = ".".join(version.split(".")[:2])
        self.adapter = ValidatingAdapter(validator=RequestValidator(self.release_name))
        self.replay = replay
        self.record = record
        secrets = {token: "scrubbed-api-token"}
        if replay:
            env = dict(SECRET_ENV)
        else:
            env = {"NPM_USERNAME": LIVE_CANARY_USERNAME, "NPM_PASSWORD": LIVE_CANARY_PASSWORD}
            secrets |= {
                LIVE_CANARY_USERNAME: SECRET_ENV["NPM_USERNAME"],
                LIVE_CANARY_PASSWORD: SECRET_ENV["NPM_PASSWORD"],
            }
        self.env = env
        self.vcr = scrubbing_vcr(CASSETTES / self.series, secrets, scenario.PREFIX, record=record)

        monkeypatch.setattr(client_module, "new_session", self.session)
        # vcrpy records from one thread at a time, so reads and writes stay sequential.
        monkeypatch.setenv("PROVISION_PARALLELISM", "1")
        monkeypatch.setenv("AUTHENTIK_URL", url)
        monkeypatch.setenv("AUTHENTIK_TOKEN", token)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        self.run = scenario.LiveRun(self.session(token), url, Release.parse(version).scope_mapping_path)

    def session(self, token: str | None = None) -> requests.Session:
        session = requests.Session()
        session.mount("http://", self.adapter)
        session.mount("https://", self.adapter)
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        return session

    def cassette(self, name: str) -> AbstractContextManager[Any]:
        if self.record:
            # Start from an empty cassette: an aborted earlier recording must not leave
            # interactions behind that a replay would match first.
            (CASSETTES / self.series / name).unlink(missing_ok=True)
        if self.replay or self.record:
            return self.vcr.use_cassette(name)
        return nullcontext()

    def writes(self) -> list[tuple[str, str]]:
        return self.adapter.writes


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    assert LIVE is not None
    url, token = LIVE
    version = requests.get(
        url.rstrip("/") + "/api/v3/admin/version/", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()["version_current"]
    harness = Harness(monkeypatch, url, token, version, replay=False, record=recording())
    if harness.record:
        write_meta(harness.series, {"url": url, "version": version, "standin_port": scenario.STANDIN_PORT})
    yield harness
    assert harness.adapter.violations == [], "\n".join(harness.adapter.violations)


@pytest.fixture(
    params=recorded_releases() or [pytest.param(None, marks=pytest.mark.skip(reason="no cassettes"))]
)
def replayed(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    meta = read_meta(request.param)
    harness = Harness(monkeypatch, meta["url"], "replayed-token", meta["version"], replay=True, record=False)
    yield harness
    assert harness.adapter.violations == [], "\n".join(harness.adapter.violations)


def run_cycle(harness: Harness, tmp_path: Path) -> None:
    spec = scenario.live_spec(tmp_path)
    with harness.cassette("npm-cycle.yaml"):
        harness.run.cleanup()
        harness.run.create_user()
        try:
            scenario.npm_cycle(harness.run, spec, harness.writes)
        finally:
            harness.run.cleanup()


def run_stack_cycle(harness: Harness, tmp_path: Path) -> None:
    with harness.cassette("stack-cycle.yaml"):
        harness.run.cleanup()
        harness.run.create_user()
        try:
            scenario.stack_cycle(harness.run, tmp_path, harness.writes)
        finally:
            harness.run.cleanup()


def run_mapping_test(
    harness: Harness, tmp_path: Path, standin: Callable[[], AbstractContextManager[Any]]
) -> None:
    spec = scenario.live_spec(tmp_path)
    with standin() as npm, harness.cassette("npm-mapping-test.yaml"):
        harness.run.cleanup()
        user_pk = harness.run.create_user()
        try:
            assert harness.run.cli("apply", "--auto-approve", *scenario.SEQUENTIAL, spec).exit_code == 0
            assert scenario.evaluate_mapping(harness.run, user_pk) == scenario.expected_header()
            if npm is not None:
                npm.secret = "no-longer-the-password"
            # NPM answers 400 for a bad login; the mapping must return no header and not fail.
            assert scenario.evaluate_mapping(harness.run, user_pk) == {}
        finally:
            harness.run.cleanup()


@pytest.mark.live
@pytest.mark.enable_socket
@skip_without_server
def test_live_npm_cycle(live: Harness, tmp_path: Path) -> None:
    run_cycle(live, tmp_path)


@pytest.mark.live
@pytest.mark.enable_socket
@skip_without_server
def test_live_stack_cycle(live: Harness, tmp_path: Path) -> None:
    run_stack_cycle(live, tmp_path)


@pytest.mark.live
@pytest.mark.enable_socket
@skip_without_server
def test_live_npm_mapping_evaluated(live: Harness, tmp_path: Path) -> None:
    def standin() -> AbstractContextManager[Any]:
        return npm_standin(LIVE_CANARY_USERNAME, LIVE_CANARY_PASSWORD, scenario.STANDIN_PORT)

    run_mapping_test(live, tmp_path, standin)


def test_replayed_npm_cycle(replayed: Harness, tmp_path: Path) -> None:
    run_cycle(replayed, tmp_path)


def test_replayed_stack_cycle(replayed: Harness, tmp_path: Path) -> None:
    run_stack_cycle(replayed, tmp_path)


def test_replayed_npm_mapping_evaluated(replayed: Harness, tmp_path: Path) -> None:
    run_mapping_test(replayed, tmp_path, nullcontext)


def test_cassettes_hold_no_secrets() -> None:
    canaries = [LIVE_CANARY_PASSWORD, LIVE_CANARY_USERNAME]
    if LIVE is not None:
        canaries.append(LIVE[1])
    for path in sorted(CASSETTES.rglob("*.yaml")):
        text = path.read_text()
        for canary in canaries:
            assert canary not in text, f"{path} holds a secret"
        for interaction in yaml.safe_load(text)["interactions"]:
            request_headers = {name.lower() for name in interaction["request"]["headers"]}
            response_headers = {name.lower() for name in interaction["response"]["headers"]}
            assert not request_headers & {"authorization", "cookie", "x-csrftoken"}, (
                f"{path} holds credentials"
            )
            assert "set-cookie" not in response_headers, f"{path} holds a cookie"
