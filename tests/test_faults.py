"""Faults during an apply: lost responses, server errors, concurrent writers, stale plans."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.cli_harness import ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT, REPO

EVERY_FIELD = REPO / "tests" / "specs" / "every-field.yaml"
PROVIDER = "Nginx Proxy Manager"


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


def after_handling(
    fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch, method: str, path: str, action: Callable[[], None]
) -> None:
    """Run `action` once, right after the fake has served the first matching request."""
    original = fake.handle
    done = False

    def handle(prepared: requests.PreparedRequest) -> tuple[int, Any]:
        nonlocal done
        answer = original(prepared)
        matches = prepared.method == method and re.search(path, prepared.path_url or "")
        if matches and not done:
            done = True
            action()
        return answer

    monkeypatch.setattr(fake, "handle", handle)


def lose_response() -> None:
    raise requests.ConnectionError("connection reset after the server handled the request")


def test_lost_post_response_not_duplicated(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    after_handling(fake, monkeypatch, "POST", r"/api/v3/core/groups/$", lose_response)
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    assert len([group for group in fake.store("group") if group["name"] == "Nginx Proxy Manager admins"]) == 1
    assert "had created the object" in outcome.stderr


def test_failed_post_sent_again_once(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    fake.fail_next("POST", r"^/core/groups/$", exc=requests.ConnectionError("refused"))
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    posts = [
        request for request in fake.requests if request.method == "POST" and request.path == "/core/groups/"
    ]
    assert len(posts) == 2
    assert fake.find("group", name="Nginx Proxy Manager admins")


def test_post_dropped_twice_sent_thrice(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    """A restarting server worker can drop several pooled connections in a row."""
    fake.fail_next("POST", r"^/core/groups/$", exc=requests.ConnectionError("reset"), times=2)

    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)

    assert outcome.exit_code == 0, outcome.text
    posts = [
        request for request in fake.requests if request.method == "POST" and request.path == "/core/groups/"
    ]
    assert len(posts) == 3
    assert len([group for group in fake.store("group") if group["name"] == "Nginx Proxy Manager admins"]) == 1
    assert "(attempt 3 of 3)" in outcome.stderr


def test_last_post_lost_still_owned(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two POSTs are refused. The third creates the group, but its response is lost."""
    for source in NPM_BLUEPRINT.parent.glob("nginx-proxy-manager*"):
        (tmp_path / source.name).write_text(source.read_text())
    spec = tmp_path / NPM_BLUEPRINT.name
    spec.write_text("stack: npm\n" + NPM_BLUEPRINT.read_text())
    original = fake.handle
    posts = 0

    def handle(prepared: requests.PreparedRequest) -> tuple[int, Any]:
        nonlocal posts
        if prepared.method == "POST" and (prepared.path_url or "").endswith("/core/groups/"):
            posts += 1
            if posts <= 2:
                raise requests.ConnectionError("refused")
            if posts == 3:
                original(prepared)
                raise requests.ConnectionError("reset after the server handled the request")
        return original(prepared)

    monkeypatch.setattr(fake, "handle", handle)

    outcome = run("apply", "--auto-approve", spec)

    assert outcome.exit_code == 0, outcome.text
    assert "had created the object" in outcome.stderr
    assert len([group for group in fake.store("group") if group["name"] == "Nginx Proxy Manager admins"]) == 1
    assert run("drift", spec).exit_code == 0


def test_get_timeout_retried(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    fake.fail_next("GET", r"^/core/groups/$", exc=requests.Timeout("read timed out"))
    outcome = run("plan", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text


def test_server_error_stops_with_summary(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    fake.fail_next("POST", r"^/providers/proxy/$", status=400, body={"external_host": ["Enter a valid URL."]})
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert 'applied: groups["Nginx Proxy Manager admins"], scope_mappings["NginX Token"]' in outcome.stderr
    assert f'failed: proxy_providers["{PROVIDER}"]' in outcome.stderr
    assert "external_host: Enter a valid URL." in outcome.stderr
    assert not [
        request
        for request in fake.requests
        if request.path == "/core/applications/" and request.method == "POST"
    ]

    again = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert again.exit_code == 0, again.text
    assert len(fake.store("scope_mapping")) == len(
        {mapping["name"] for mapping in fake.store("scope_mapping")}
    )
    assert run("drift", NPM_BLUEPRINT).exit_code == 0


def test_continue_on_error_skips_dependents(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    fake.fail_next(
        "POST", r"^/propertymappings/provider/scope/$", status=500, body={"detail": "boom"}, times=3
    )
    outcome = run("apply", "--auto-approve", "--continue-on-error", NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert 'failed: scope_mappings["NginX Token"]' in outcome.stderr
    assert (
        f'skipped (they depend on a failed object): proxy_providers["{PROVIDER}"], '
        'applications["nginx-proxy-manager"], outposts["authentik Embedded Outpost"]'
    ) in outcome.stderr
    assert fake.find("group", name="Nginx Proxy Manager admins")

    assert run("apply", "--auto-approve", NPM_BLUEPRINT).exit_code == 0
    assert run("drift", NPM_BLUEPRINT).exit_code == 0


def test_concurrent_outpost_write_repeated(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    outpost = fake.find("outpost", name="authentik Embedded Outpost")
    flow = fake.find("flow", slug="default-provider-authorization-implicit-consent")
    invalidation = fake.find("flow", slug="default-provider-invalidation-flow")
    other = fake.api(
        "POST",
        "/providers/proxy/",
        json={
            "name": "other apply",
            "mode": "forward_single",
            "external_host": "https://o.example.com",
            "authorization_flow": flow["pk"],
            "invalidation_flow": invalidation["pk"],
        },
    ).json()

    def other_apply_overwrites() -> None:
        # A second apply read the list before ours wrote, and now writes its own version.
        outpost["providers"] = [other["pk"]]

    after_handling(fake, monkeypatch, "PATCH", r"/api/v3/outposts/instances/", other_apply_overwrites)
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    providers = fake.find("outpost", name="authentik Embedded Outpost")["providers"]
    assert other["pk"] in providers
    assert fake.find("proxy_provider", name=PROVIDER)["pk"] in providers


def test_saved_plan_applies_when_current(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text(run("plan", "-o", "json", NPM_BLUEPRINT).stdout)
    outcome = run("apply", "--auto-approve", "--plan", saved, NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    assert "Apply complete" in outcome.stdout


def test_stale_saved_plan_refused(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    assert run("apply", "--auto-approve", NPM_BLUEPRINT).exit_code == 0
    provider = fake.find("proxy_provider", name=PROVIDER)
    fake.api("PATCH", f"/providers/proxy/{provider['pk']}/", json={"mode": "forward_domain"})
    saved = tmp_path / "plan.json"
    saved.write_text(run("plan", "-o", "json", NPM_BLUEPRINT).stdout)

    # Between plan and apply someone changes authentik (or restores an older state).
    fake.api(
        "PATCH", f"/providers/proxy/{provider['pk']}/", json={"mode": "proxy", "internal_host": "http://x:1"}
    )
    fake.reset_log()
    outcome = run("apply", "--auto-approve", "--plan", saved, NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert "the saved plan is stale; nothing was written" in outcome.stderr
    assert fake.writes == []


def test_unreadable_saved_plan(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text("not json")
    outcome = run("apply", "--auto-approve", "--plan", saved, NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert "cannot read the saved plan" in outcome.stderr
    assert fake.writes == []


@pytest.mark.parametrize("fake", ["2024.8", "2025.12"], indirect=True)
def test_parallel_apply_converges(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    parallel = run("apply", "--auto-approve", "--parallelism", "8", EVERY_FIELD)
    assert parallel.exit_code == 0, parallel.text
    fake.reset_log()
    assert run("apply", "--auto-approve", EVERY_FIELD).exit_code == 0
    assert fake.writes == []
    assert run("drift", EVERY_FIELD).exit_code == 0


def test_parallel_output_in_plan_order(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    groups = "".join(f"  - name: g{number:02}\n    attributes: {{n: {number}}}\n" for number in range(20))
    spec = tmp_path / "many.yaml"
    spec.write_text("version: 1\ngroups:\n" + groups)
    outcome = run("apply", "--auto-approve", "--parallelism", "8", spec)
    assert outcome.exit_code == 0, outcome.text
    created = [line.split('"')[1] for line in outcome.stdout.splitlines() if line.startswith("  created ")]
    assert created == [f"g{number:02}" for number in range(20)]


def test_stages_respect_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    from provision.api.releases import Release
    from provision.apply import apply_stages, dependents
    from provision.plan.build import build_plan
    from provision.spec import load_spec
    from provision.state import LiveState

    monkeypatch.setenv("NPM_USERNAME", "user@example.com")
    monkeypatch.setenv("NPM_PASSWORD", "a-long-password")
    for path in (EVERY_FIELD, NPM_BLUEPRINT):
        spec_file = load_spec(path)
        plan = build_plan(spec_file, LiveState.empty(Release(2025, 12)))
        stages = apply_stages(plan, spec_file)
        stage_of = {change.address: number for number, stage in enumerate(stages) for change in stage}
        assert set(stage_of) == {change.address for change in plan.pending}
        for address, number in stage_of.items():
            change = next(change for change in plan.pending if change.address == address)
            for dependent in dependents(spec_file, change):
                assert stage_of[dependent] > number, f"{dependent} runs with or before {address}"
