"""The whole cycle against the fake: plan, apply, no-op apply, drift, repair."""

from __future__ import annotations

import json

import pytest

from tests.cli_harness import CANARY_PASSWORD, CANARY_USERNAME, ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT

PROVIDER = "Nginx Proxy Manager"
GROUP = "Nginx Proxy Manager admins"


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


@pytest.fixture
def applied(fake: FakeAuthentik, run: ProvisionRunner) -> FakeAuthentik:
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    fake.reset_log()
    return fake


def test_first_apply_creates_npm_setup(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    assert "Apply complete" in outcome.stdout

    group = fake.find("group", name=GROUP)
    assert group["attributes"]["nginx_password"] == CANARY_PASSWORD
    assert group["attributes"]["X-Nginx-Token"] is None
    mapping = fake.find("scope_mapping", name="NginX Token")
    assert mapping["scope_name"] == "ak_proxy"
    provider = fake.find("proxy_provider", name=PROVIDER)
    assert provider["mode"] == "forward_single"
    assert mapping["pk"] in provider["property_mappings"]
    application = fake.find("application", slug="nginx-proxy-manager")
    assert application["provider"] == provider["pk"]
    bindings = [b for b in fake.store("policy_binding") if b["target"] == application["pk"]]
    assert [binding["group"] for binding in bindings] == [group["pk"]]
    outpost = fake.find("outpost", name="authentik Embedded Outpost")
    assert provider["pk"] in outpost["providers"]
    akadmin = fake.find("user", username="akadmin")
    assert akadmin["pk"] in group["users"]


def test_second_apply_sends_no_writes(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    assert "No changes" in outcome.stdout
    assert applied.writes == []


def test_plan_after_apply_is_empty(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("plan", "--output", "json", NPM_BLUEPRINT)
    document = json.loads(outcome.stdout)
    assert document["changed"] is False
    assert {change["action"] for change in document["changes"]} == {"no-op"}


def test_drift_clean_after_apply(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("drift", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    assert "No drift" in outcome.stdout


def test_drift_names_changed_field(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    provider = applied.find("proxy_provider", name=PROVIDER)
    response = applied.api(
        "PATCH",
        f"/providers/proxy/{provider['pk']}/",
        json={"mode": "forward_domain", "cookie_domain": "example.com"},
    )
    assert response.status_code == 200, response.text

    outcome = run("drift", NPM_BLUEPRINT)
    assert outcome.exit_code == 2, outcome.text
    assert f'proxy_providers["{PROVIDER}"]' in outcome.stdout
    assert 'mode: "forward_domain" -> "forward_single"' in outcome.stdout


def test_apply_repairs_drift(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    provider = applied.find("proxy_provider", name=PROVIDER)
    applied.api("PATCH", f"/providers/proxy/{provider['pk']}/", json={"mode": "forward_domain"})
    applied.reset_log()

    assert run("apply", "--auto-approve", NPM_BLUEPRINT).exit_code == 0
    [write] = applied.writes
    assert write.method == "PATCH"
    # authentik validates a partial update as mode `proxy` unless `mode` is in the body.
    assert write.body["mode"] == "forward_single"
    assert run("drift", NPM_BLUEPRINT).exit_code == 0


def test_drift_json_names_field(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    provider = applied.find("proxy_provider", name=PROVIDER)
    applied.api(
        "PATCH",
        f"/providers/proxy/{provider['pk']}/",
        json={"mode": "forward_single", "external_host": "https://other.example.com"},
    )

    outcome = run("drift", "--output", "json", NPM_BLUEPRINT)
    assert outcome.exit_code == 2
    document = json.loads(outcome.stdout)
    assert document["format_version"] == 1
    assert document["drifted"] is True
    [change] = [item for item in document["changes"] if item["action"] != "no-op"]
    assert change["address"] == f'proxy_providers["{PROVIDER}"]'
    assert change["fields"] == [
        {
            "field": "external_host",
            "before": "https://other.example.com",
            "after": "https://npm.example.com",
            "sensitive": False,
        }
    ]


def test_secret_attribute_drift_is_masked(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    group = applied.find("group", name=GROUP)
    attributes = {**group["attributes"], "nginx_password": "changed-behind-the-back"}
    applied.api("PATCH", f"/core/groups/{group['pk']}/", json={"attributes": attributes})

    outcome = run("drift", NPM_BLUEPRINT)
    assert outcome.exit_code == 2
    assert "attributes.nginx_password: (sensitive) -> (sensitive)" in outcome.stdout
    assert "changed-behind-the-back" not in outcome.text
    assert CANARY_PASSWORD not in outcome.text


def test_other_members_left_alone(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    group = applied.find("group", name=GROUP)
    other = applied.add_user("someone-else")
    applied.api("POST", f"/core/groups/{group['pk']}/add_user/", json={"pk": other})

    assert run("drift", NPM_BLUEPRINT).exit_code == 0
    assert run("apply", "--auto-approve", NPM_BLUEPRINT).exit_code == 0
    assert other in applied.find("group", name=GROUP)["users"]


def test_removed_member_is_added_again(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    group = applied.find("group", name=GROUP)
    akadmin = applied.find("user", username="akadmin")
    applied.api("POST", f"/core/groups/{group['pk']}/remove_user/", json={"pk": akadmin["pk"]})

    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0
    assert 'members: + "akadmin"' in outcome.stdout
    assert akadmin["pk"] in applied.find("group", name=GROUP)["users"]


def test_outpost_keeps_other_providers(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    flow = applied.find("flow", slug="default-provider-authorization-implicit-consent")
    body = {
        "name": "Other app",
        "mode": "forward_single",
        "external_host": "https://other.example.com",
        "authorization_flow": flow["pk"],
    }
    if "invalidation_flow" in applied.find("proxy_provider", name=PROVIDER):
        body["invalidation_flow"] = applied.find("flow", slug="default-provider-invalidation-flow")["pk"]
    other = applied.api("POST", "/providers/proxy/", json=body).json()
    outpost = applied.find("outpost", name="authentik Embedded Outpost")
    applied.api("PATCH", f"/outposts/instances/{outpost['pk']}/", json={"providers": [other["pk"]]})

    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    providers = applied.find("outpost", name="authentik Embedded Outpost")["providers"]
    assert other["pk"] in providers
    assert applied.find("proxy_provider", name=PROVIDER)["pk"] in providers


def test_disabled_binding_enabled_again(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    application = applied.find("application", slug="nginx-proxy-manager")
    [binding] = [b for b in applied.store("policy_binding") if b["target"] == application["pk"]]
    applied.api(
        "PATCH",
        f"/policies/bindings/{binding['pk']}/",
        json={"target": binding["target"], "group": binding["group"], "enabled": False},
    )
    applied.reset_log()

    assert run("drift", NPM_BLUEPRINT).exit_code == 2
    assert run("apply", "--auto-approve", NPM_BLUEPRINT).exit_code == 0
    [write] = applied.writes
    assert write.method == "PATCH"
    assert write.body["target"] == application["pk"]
    assert write.body["group"] == binding["group"]
    assert applied.find("policy_binding", pk=binding["pk"])["enabled"] is True


def test_extra_access_group_is_revoked(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    application = applied.find("application", slug="nginx-proxy-manager")
    admins = applied.find("group", name="authentik Admins")
    applied.api(
        "POST", "/policies/bindings/", json={"target": application["pk"], "group": admins["pk"], "order": 5}
    )

    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 0
    assert 'access: - "authentik Admins"' in outcome.stdout
    groups = {b["group"] for b in applied.store("policy_binding") if b["target"] == application["pk"]}
    assert admins["pk"] not in groups


def test_apply_refuses_without_terminal(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("apply", NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert "standard input is not a terminal" in outcome.stderr
    assert "--auto-approve" in outcome.stderr
    assert fake.writes == []


def test_apply_asks_on_terminal(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("provision.output.stdin_is_terminal", lambda: True)
    declined = run("apply", NPM_BLUEPRINT, input="no\n")
    assert declined.exit_code == 1
    assert fake.writes == []

    accepted = run("apply", NPM_BLUEPRINT, input="yes\n")
    assert accepted.exit_code == 0, accepted.text
    assert fake.writes


def test_bad_token_is_clear_error(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHENTIK_TOKEN", "wrong-token-value")
    outcome = run("plan", NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert "rejected the API token" in outcome.stderr
    assert "wrong-token-value" not in outcome.text
    assert "Traceback" not in outcome.text


def test_unknown_flow_is_spec_error(fake: FakeAuthentik, run: ProvisionRunner, tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "version: 1\nproxy_providers:\n  - name: p\n    mode: forward_single\n"
        "    external_host: https://p.example.com\n    authorization_flow: no-such-flow\n"
    )
    outcome = run("apply", "--auto-approve", spec)
    assert outcome.exit_code == 1
    assert f"{spec}:6:" in outcome.stderr
    assert "proxy_providers[0].authorization_flow: flow 'no-such-flow' not found" in outcome.stderr
    assert fake.writes == []


def test_canary_secrets_never_printed(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = [
        run("-vv", "validate", NPM_BLUEPRINT),
        run("-vv", "plan", "--offline", NPM_BLUEPRINT),
        run("-vv", "plan", "--offline", "-o", "json", NPM_BLUEPRINT),
        run("-vv", "plan", NPM_BLUEPRINT),
        run("-vv", "plan", "-o", "json", NPM_BLUEPRINT),
        run("-vv", "apply", "--auto-approve", NPM_BLUEPRINT),
        run("-vv", "drift", NPM_BLUEPRINT),
        run("-vv", "drift", "-o", "json", NPM_BLUEPRINT),
    ]
    monkeypatch.setenv("AUTHENTIK_TOKEN", "x" + fake.token)
    outcomes.append(run("-vv", "drift", NPM_BLUEPRINT))
    for outcome in outcomes:
        for canary in (CANARY_PASSWORD, CANARY_USERNAME, fake.token):
            assert canary not in outcome.text
