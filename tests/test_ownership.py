"""Stacks: ownership recorded in authentik, prune, renames, memberships, import and export."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_harness import CANARY_PASSWORD, ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT, REPO

STACK_SPEC = """
version: 1
stack: team-a
groups:
  - name: a-parent
  - name: a-group
    parents: [a-parent]
    attributes: {team: a}
scope_mappings:
  - name: a-mapping
    scope_name: a_scope
    expression: return {}
proxy_providers:
  - name: a-provider
    mode: forward_single
    external_host: https://a.example.com
    authorization_flow: default-provider-authorization-implicit-consent
    property_mappings: [a-mapping]
applications:
  - name: A
    slug: a-app
    provider: a-provider
    access: [a-group]
outposts:
  - name: authentik Embedded Outpost
    providers: [a-provider]
"""


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def inventory(fake: FakeAuthentik, stack: str) -> dict[str, Any]:
    record = fake.find("blueprint_instance", name=f"provision: {stack}")
    context: dict[str, Any] = record["context"]["provision"]
    return context


@pytest.fixture
def applied(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> Path:
    spec = write(tmp_path, STACK_SPEC)
    outcome = run("apply", "--auto-approve", spec)
    assert outcome.exit_code == 0, outcome.text
    fake.reset_log()
    return spec


def test_apply_records_ownership(fake: FakeAuthentik, applied: Path) -> None:
    record = fake.find("blueprint_instance", name="provision: team-a")
    assert record["enabled"] is False
    owned = inventory(fake, "team-a")["owned"]
    assert owned["groups"] == {
        "a-group": fake.find("group", name="a-group")["pk"],
        "a-parent": fake.find("group", name="a-parent")["pk"],
    }
    assert owned["proxy_providers"] == {"a-provider": fake.find("proxy_provider", name="a-provider")["pk"]}
    assert owned["applications"] == {"a-app": fake.find("application", slug="a-app")["pk"]}
    assert inventory(fake, "team-a")["added_outpost_providers"] == {
        "authentik Embedded Outpost": ["a-provider"]
    }


def test_second_apply_with_stack_sends_no_writes(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path
) -> None:
    outcome = run("apply", "--auto-approve", applied)
    assert outcome.exit_code == 0
    assert fake.writes == []


def test_removed_objects_are_orphans_without_prune(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path, tmp_path: Path
) -> None:
    smaller = write(tmp_path, STACK_SPEC.split("applications:")[0], "smaller.yaml")
    plan = run("plan", smaller)
    assert plan.exit_code == 0
    assert 'applications["a-app"] (would delete it)' in plan.stdout
    assert (
        'outposts["authentik Embedded Outpost"] (would remove the memberships it added to it)' in plan.stdout
    )

    drift = run("drift", smaller)
    assert drift.exit_code == 2
    assert 'applications["a-app"]: owned by the stack but no longer in the spec' in drift.stdout

    assert run("apply", "--auto-approve", smaller).exit_code == 0
    assert fake.find("application", slug="a-app")


def test_prune_deletes_in_reverse_order(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path, tmp_path: Path
) -> None:
    provider_pk = fake.find("proxy_provider", name="a-provider")["pk"]
    empty = write(tmp_path, "version: 1\nstack: team-a\n", "empty.yaml")

    outcome = run("apply", "--auto-approve", "--prune", empty)
    assert outcome.exit_code == 0, outcome.text
    deletes = [write.path for write in fake.writes if write.method == "DELETE"]
    assert deletes[0] == "/core/applications/a-app/"
    assert deletes[1] == f"/providers/proxy/{provider_pk}/"
    assert deletes[2].startswith("/propertymappings/provider/scope/")
    group_pks = [fake_pk.split("/")[3] for fake_pk in deletes[3:]]
    assert len(group_pks) == 2
    assert not [group for group in fake.store("group") if group["name"].startswith("a-")]
    assert inventory(fake, "team-a")["owned"]["groups"] == {}
    fake.reset_log()

    assert run("apply", "--auto-approve", "--prune", empty).exit_code == 0
    assert fake.writes == []


def test_prune_deletes_child_group_first(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path, tmp_path: Path
) -> None:
    child = fake.find("group", name="a-group")["pk"]
    empty = write(tmp_path, "version: 1\nstack: team-a\n", "empty.yaml")
    assert run("apply", "--auto-approve", "--prune", empty).exit_code == 0
    group_deletes = [write.path for write in fake.writes if write.path.startswith("/core/groups/")]
    assert group_deletes[0] == f"/core/groups/{child}/"


def test_prune_treats_gone_as_deleted(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path, tmp_path: Path
) -> None:
    fake.fail_next("DELETE", r"^/core/applications/a-app/$", status=404, body={"detail": "Not found."})
    empty = write(tmp_path, "version: 1\nstack: team-a\n", "empty.yaml")
    outcome = run("apply", "--auto-approve", "--prune", empty)
    assert outcome.exit_code == 0, outcome.text
    assert 'already gone applications["a-app"]' in outcome.stdout


def test_prune_needs_stack(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("apply", "--auto-approve", "--prune", NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert "--prune needs a spec with a `stack`" in outcome.stderr
    assert fake.writes == []


def test_renamed_group_is_drift_not_duplicate(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path
) -> None:
    group = fake.find("group", name="a-group")
    fake.api("PATCH", f"/core/groups/{group['pk']}/", json={"name": "renamed by hand"})

    drift = run("drift", applied)
    assert drift.exit_code == 2
    assert 'name: "renamed by hand" -> "a-group"' in drift.stdout

    assert run("apply", "--auto-approve", applied).exit_code == 0
    assert fake.find("group", pk=group["pk"])["name"] == "a-group"
    assert len([g for g in fake.store("group") if g["name"] == "a-group"]) == 1


def test_renamed_application_slug_repaired(fake: FakeAuthentik, run: ProvisionRunner, applied: Path) -> None:
    fake.api("PATCH", "/core/applications/a-app/", json={"slug": "moved-by-hand"})

    drift = run("drift", applied)
    assert drift.exit_code == 2
    assert 'slug: "moved-by-hand" -> "a-app"' in drift.stdout
    assert run("apply", "--auto-approve", applied).exit_code == 0
    assert [app["slug"] for app in fake.store("application")] == ["a-app"]
    assert run("drift", applied).exit_code == 0


def test_unowned_object_needs_import(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    fake.api("POST", "/core/groups/", json={"name": "a-group"})
    spec = write(tmp_path, STACK_SPEC)

    outcome = run("apply", "--auto-approve", spec)
    assert outcome.exit_code == 1
    assert (
        "group 'a-group' already exists in authentik but is not managed by the stack 'team-a'"
        in outcome.stderr
    )
    assert "provision import" in outcome.stderr
    assert fake.writes == []


def test_import_adopts_after_diff(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    existing = fake.api(
        "POST", "/core/groups/", json={"name": "a-parent", "attributes": {"old": True}}
    ).json()
    spec = write(
        tmp_path, STACK_SPEC.replace("  - name: a-parent\n", "  - name: a-parent\n    attributes: {}\n")
    )

    imported = run("import", "--auto-approve", spec)
    assert imported.exit_code == 0, imported.text
    assert "attributes.old: true -> (removed)" in imported.stdout
    assert 'groups["a-parent"]' in imported.stdout.split("adopted into the stack")[1]
    assert inventory(fake, "team-a")["owned"]["groups"] == {"a-parent": existing["pk"]}
    assert fake.find("group", name="a-parent")["attributes"] == {"old": True}  # import changes nothing else

    assert run("apply", "--auto-approve", spec).exit_code == 0
    assert fake.find("group", name="a-parent")["attributes"] == {}


def test_import_needs_confirmation(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    fake.api("POST", "/core/groups/", json={"name": "a-group"})
    outcome = run("import", write(tmp_path, STACK_SPEC))
    assert outcome.exit_code == 1
    assert "--auto-approve" in outcome.stderr
    assert not fake.store("blueprint_instance")


def test_other_stacks_objects_refused(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path, tmp_path: Path
) -> None:
    other = write(
        tmp_path, "version: 1\nstack: team-b\ngroups:\n  - name: a-group\n    attributes: {}\n", "b.yaml"
    )
    outcome = run("plan", other)
    assert outcome.exit_code == 1
    assert "group 'a-group' is managed by the stack 'team-a'" in outcome.stderr


def test_stackless_spec_cannot_touch_owned(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path, tmp_path: Path
) -> None:
    other = write(tmp_path, "version: 1\ngroups:\n  - name: a-group\n    attributes: {}\n", "plain.yaml")
    outcome = run("apply", "--auto-approve", other)
    assert outcome.exit_code == 1
    assert "is managed by the stack 'team-a'" in outcome.stderr


def test_two_stacks_share_an_instance(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path, tmp_path: Path
) -> None:
    spec_b = write(
        tmp_path,
        STACK_SPEC.replace("team-a", "team-b")
        .replace("a-", "b-")
        .replace("slug: a-app", "slug: b-app")
        .replace("https://a.", "https://b."),
        "b.yaml",
    )
    assert run("apply", "--auto-approve", spec_b).exit_code == 0
    fake.reset_log()
    assert run("apply", "--auto-approve", applied).exit_code == 0
    assert run("apply", "--auto-approve", spec_b).exit_code == 0
    assert fake.writes == []

    empty_a = write(tmp_path, "version: 1\nstack: team-a\n", "empty-a.yaml")
    assert run("apply", "--auto-approve", "--prune", empty_a).exit_code == 0
    assert fake.find("application", slug="b-app")
    outpost = fake.find("outpost", name="authentik Embedded Outpost")
    assert fake.find("proxy_provider", name="b-provider")["pk"] in outpost["providers"]
    assert run("drift", spec_b).exit_code == 0


def test_name_only_group_needs_no_owner(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    # A group named with nothing but members (or nothing at all) is only used, never adopted.
    fake.api("POST", "/core/groups/", json={"name": "a-parent"})
    outcome = run("apply", "--auto-approve", write(tmp_path, STACK_SPEC))
    assert outcome.exit_code == 0, outcome.text
    assert "a-parent" not in inventory(fake, "team-a")["owned"]["groups"]


def test_membership_only_group(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    alice = fake.add_user("alice")
    akadmin = fake.find("user", username="akadmin")["pk"]
    spec = write(
        tmp_path, "version: 1\nstack: members\ngroups:\n  - name: authentik Admins\n    members: [alice]\n"
    )

    assert run("apply", "--auto-approve", spec).exit_code == 0
    admins = fake.find("group", name="authentik Admins")
    assert {alice, akadmin} <= set(admins["users"])
    assert inventory(fake, "members")["added_members"] == {"authentik Admins": ["alice"]}
    assert inventory(fake, "members")["owned"]["groups"] == {}

    without_alice = write(
        tmp_path,
        "version: 1\nstack: members\ngroups:\n  - name: authentik Admins\n    members: []\n",
        "b.yaml",
    )
    outcome = run("apply", "--auto-approve", without_alice)
    assert outcome.exit_code == 0, outcome.text
    assert 'members: - "alice"' in outcome.stdout
    users = fake.find("group", name="authentik Admins")["users"]
    assert alice not in users
    assert akadmin in users


def test_members_not_added_by_stack_stay(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    # akadmin was in the group before the stack listed it, so dropping it from the spec keeps it.
    with_akadmin = write(
        tmp_path, "version: 1\nstack: m\ngroups:\n  - name: authentik Admins\n    members: [akadmin]\n"
    )
    assert run("apply", "--auto-approve", with_akadmin).exit_code == 0
    without = write(
        tmp_path, "version: 1\nstack: m\ngroups:\n  - name: authentik Admins\n    members: []\n", "b.yaml"
    )
    assert run("apply", "--auto-approve", without).exit_code == 0
    akadmin = fake.find("user", username="akadmin")["pk"]
    assert akadmin in fake.find("group", name="authentik Admins")["users"]


def test_outpost_detaches_only_own_providers(
    fake: FakeAuthentik, run: ProvisionRunner, applied: Path, tmp_path: Path
) -> None:
    flow = fake.find("flow", slug="default-provider-authorization-implicit-consent")
    invalidation = fake.find("flow", slug="default-provider-invalidation-flow")
    foreign = fake.api(
        "POST",
        "/providers/proxy/",
        json={
            "name": "foreign",
            "mode": "forward_single",
            "external_host": "https://f.example.com",
            "authorization_flow": flow["pk"],
            "invalidation_flow": invalidation["pk"],
        },
    ).json()
    outpost = fake.find("outpost", name="authentik Embedded Outpost")
    fake.api(
        "PATCH",
        f"/outposts/instances/{outpost['pk']}/",
        json={"providers": [*outpost["providers"], foreign["pk"]]},
    )

    detached = write(
        tmp_path, STACK_SPEC.replace("    providers: [a-provider]", "    providers: []"), "detached.yaml"
    )
    outcome = run("apply", "--auto-approve", detached)
    assert outcome.exit_code == 0, outcome.text
    providers = fake.find("outpost", name="authentik Embedded Outpost")["providers"]
    assert foreign["pk"] in providers
    assert fake.find("proxy_provider", name="a-provider")["pk"] not in providers


def test_export_round_trips(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert run("apply", "--auto-approve", NPM_BLUEPRINT).exit_code == 0
    assert run("apply", "--auto-approve", REPO / "tests" / "specs" / "every-field.yaml").exit_code == 0
    exported_file = tmp_path / "exported.yaml"

    outcome = run("export", "--output-file", exported_file)
    assert outcome.exit_code == 0, outcome.text
    text = exported_file.read_text()
    assert CANARY_PASSWORD not in text + outcome.text
    assert "!env NGINX_PROXY_MANAGER_ADMINS_NGINX_PASSWORD" in text
    assert "NGINX_PROXY_MANAGER_ADMINS_NGINX_PASSWORD" in outcome.stderr

    monkeypatch.setenv("NGINX_PROXY_MANAGER_ADMINS_NGINX_PASSWORD", CANARY_PASSWORD)
    plan = run("plan", "-o", "json", exported_file)
    assert plan.exit_code == 0, plan.text
    document = json.loads(plan.stdout)
    assert [change["address"] for change in document["changes"] if change["action"] != "no-op"] == []


def test_export_with_stack_then_import(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    assert run("apply", "--auto-approve", REPO / "tests" / "specs" / "every-field.yaml").exit_code == 0
    exported_file = tmp_path / "exported.yaml"
    assert run("export", "--stack", "adopted", "-f", exported_file).exit_code == 0
    assert yaml.safe_load(exported_file.read_text().replace("!env", ""))["stack"] == "adopted"

    imported = run("import", "--auto-approve", exported_file)
    assert imported.exit_code == 0, imported.text
    assert run("drift", exported_file).exit_code == 0
