"""The main flows against the fake of every release from 2024.2 on, each request checked
against that release's OpenAPI schema by the `fake` fixture."""

from __future__ import annotations

import pytest

from tests.cli_harness import ProvisionRunner
from tests.conftest import ALL_RELEASES
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT, write_spec

PROVIDER = "Nginx Proxy Manager"


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


@pytest.mark.parametrize("fake", ALL_RELEASES, indirect=True)
def test_npm_cycle(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    first = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert first.exit_code == 0, first.text
    fake.reset_log()

    second = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert second.exit_code == 0, second.text
    assert fake.writes == []
    assert run("drift", NPM_BLUEPRINT).exit_code == 0

    provider = fake.find("proxy_provider", name=PROVIDER)
    fake.api("PATCH", f"/providers/proxy/{provider['pk']}/", json={"mode": "forward_domain"})
    drifted = run("drift", NPM_BLUEPRINT)
    assert drifted.exit_code == 2
    assert 'mode: "forward_domain" -> "forward_single"' in drifted.stdout

    assert run("apply", "--auto-approve", NPM_BLUEPRINT).exit_code == 0
    assert run("drift", NPM_BLUEPRINT).exit_code == 0


@pytest.mark.parametrize("fake", ALL_RELEASES, indirect=True)
def test_group_parents_follow_release(fake: FakeAuthentik, run: ProvisionRunner, tmp_path) -> None:
    spec = write_spec(
        tmp_path,
        """
        version: 1
        groups:
          - name: parent
          - name: child
            parents: [parent]
            attributes: {team: infra}
        """,
    )
    assert run("apply", "--auto-approve", spec).exit_code == 0
    parent = fake.find("group", name="parent")
    child = fake.find("group", name="child")
    if fake.release.at_least("2025.12"):
        assert child["parents"] == [parent["pk"]]
    else:
        assert child["parent"] == parent["pk"]
    fake.reset_log()
    assert run("apply", "--auto-approve", spec).exit_code == 0
    assert fake.writes == []


@pytest.mark.parametrize("fake", ["2025.10"], indirect=True)
def test_two_parents_rejected_before_2025_12(fake: FakeAuthentik, run: ProvisionRunner, tmp_path) -> None:
    spec = write_spec(
        tmp_path,
        """
        version: 1
        groups:
          - name: a
          - name: b
          - name: child
            parents: [a, b]
        """,
    )
    outcome = run("apply", "--auto-approve", spec)
    assert outcome.exit_code == 1
    assert "groups[2].parents: authentik 2025.10" in outcome.stderr
    assert "allows one parent per group" in outcome.stderr
    assert fake.writes == []


@pytest.mark.parametrize("fake", ["2024.8"], indirect=True)
def test_invalidation_flow_ignored_before_2024_10(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    assert "invalidation_flow is ignored" in outcome.stdout
    provider_writes = [w for w in fake.writes if w.path == "/providers/proxy/"]
    assert "invalidation_flow" not in provider_writes[0].body
