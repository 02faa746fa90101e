"""The main flows against the fake of every release from 2024.2 on, each request checked
against that release's OpenAPI schema by the `fake` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_harness import ProvisionRunner
from tests.conftest import ALL_RELEASES
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT, REPO, write_spec

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


EVERY_FIELD = REPO / "tests" / "specs" / "every-field.yaml"

# Each changes a value of every-field.yaml, for the update test.
EVERY_FIELD_CHANGES = [
    ("team: infra", "team: platform"),
    ("flag: true", "flag: false"),
    ("description: Every field\n    expression", "description: Changed\n    expression"),
    ('{"every_field": request.user.username}', '{"every_field": request.user.email}'),
    ("internal_host_ssl_validation: false", "internal_host_ssl_validation: true"),
    ('skip_path_regex: "^/health$"', 'skip_path_regex: "^/status$"'),
    ("basic_auth_user_attribute: proxy_user", "basic_auth_user_attribute: other_user"),
    ("intercept_header_auth: false", "intercept_header_auth: true"),
    ("access_token_validity: hours=2", "access_token_validity: hours=3"),
    ("refresh_token_validity: days=7", "refresh_token_validity: days=8"),
    (
        "authorization_flow: default-provider-authorization-explicit-consent",
        "authorization_flow: default-provider-authorization-implicit-consent",
    ),
    ("cookie_domain: every.example.com", "cookie_domain: example.com"),
    ("launch_url: https://every.example.com/start", "launch_url: https://every.example.com/"),
    ("publisher: Example", "publisher: Changed"),
    ("ui_group: Tools", "ui_group: Other"),
    ("policy_engine_mode: all", "policy_engine_mode: any"),
    ("open_in_new_tab: true", "open_in_new_tab: false"),
    ("access: [every-field group, every-field parent]", "access: [every-field parent]"),
]


@pytest.mark.parametrize("fake", ALL_RELEASES, indirect=True)
def test_every_field_round_trips(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    first = run("apply", "--auto-approve", EVERY_FIELD)
    assert first.exit_code == 0, first.text
    assert "Apply complete" in first.stdout
    fake.reset_log()

    again = run("apply", "--auto-approve", EVERY_FIELD)
    assert again.exit_code == 0, again.text
    assert fake.writes == []
    assert run("drift", EVERY_FIELD).exit_code == 0

    provider = fake.find("proxy_provider", name="every-field proxy")
    assert provider["basic_auth_enabled"] is True
    assert provider["certificate"] == fake.find("certificate", name="authentik Self-signed Certificate")["pk"]
    application = fake.find("application", slug="every-field")
    assert application["policy_engine_mode"] == "all"
    assert application["group"] == "Tools"


@pytest.mark.parametrize("fake", ALL_RELEASES, indirect=True)
def test_every_field_updates(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    assert run("apply", "--auto-approve", EVERY_FIELD).exit_code == 0
    text = EVERY_FIELD.read_text()
    for old, new in EVERY_FIELD_CHANGES:
        assert old in text, old
        text = text.replace(old, new)
    changed = tmp_path / "every-field.yaml"
    changed.write_text(text)
    fake.reset_log()

    drift = run("drift", changed)
    assert drift.exit_code == 2
    outcome = run("apply", "--auto-approve", changed)
    assert outcome.exit_code == 0, outcome.text
    assert {write.method for write in fake.writes} <= {"PATCH", "DELETE"}
    fake.reset_log()

    assert run("drift", changed).exit_code == 0, run("drift", changed).stdout
    assert run("apply", "--auto-approve", changed).exit_code == 0
    assert fake.writes == []


@pytest.mark.parametrize("fake", ["2023.10"], indirect=True)
def test_release_before_2024_2_refused(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("plan", NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert "authentik 2023.10.7 is not supported: provision needs 2024.2 or newer" in outcome.stderr
    assert [request.path for request in fake.requests] == ["/admin/version/"]


@pytest.mark.parametrize("version", ["2026.5.0-rc1", "2026.5.2"])
@pytest.mark.parametrize("fake", ["2026.5-rc"], indirect=True)
def test_prerelease_and_patch_accepted(fake: FakeAuthentik, run: ProvisionRunner, version: str) -> None:
    fake.version = version
    outcome = run("plan", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    assert f"authentik {version}" in outcome.stdout
    assert "newer than the releases" not in outcome.text


@pytest.mark.parametrize("fake", ["2026.5-rc"], indirect=True)
def test_newer_release_warns_once(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    fake.version = "2026.8.1"
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    warning = "authentik 2026.8.1 is newer than the releases provision was tested with (2024.2 to 2026.5)"
    assert outcome.text.count(warning) == 1


@pytest.mark.parametrize("fake", ["2024.2", "2025.12"], indirect=True)
def test_many_members_read_in_one_list(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    usernames = [f"member-{number:02}" for number in range(15)]
    for username in usernames:
        fake.add_user(username)
    spec = write_spec(
        tmp_path, f"version: 1\ngroups:\n  - name: crowd\n    members: [{', '.join(usernames)}]\n"
    )

    assert run("apply", "--auto-approve", spec).exit_code == 0
    fake.reset_log()
    assert run("plan", spec).exit_code == 0
    user_reads = [request for request in fake.requests if request.path == "/core/users/"]
    assert len(user_reads) == 1
