"""The scenarios run against a real authentik, live or replayed from cassettes.

Every object they create has a name starting with `provision-live-test`, and
they delete those objects before and after, so they are safe to run against an
instance that holds a real Nginx Proxy Manager setup.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from typer.testing import CliRunner

from provision import cli
from tests.helpers import NPM_BLUEPRINT
from tests.npm_standin import STANDIN_TOKEN

PREFIX = "provision-live-test"
GROUP = f"{PREFIX} admins"
MAPPING = f"{PREFIX} NginX Token"
PROVIDER = f"{PREFIX} Nginx Proxy Manager"
SLUG = f"{PREFIX}-npm"
USERNAME = f"{PREFIX}-user"
STANDIN_PORT = 18081
# vcrpy records from one thread at a time; parallel writes would make cassettes flaky.
SEQUENTIAL = ("--parallelism", "1")
STACK = PREFIX


def live_spec(directory: Path) -> Path:
    """The NPM blueprint with test names, a test member, and NPM's API at the loopback stand-in."""
    text = NPM_BLUEPRINT.read_text()
    replacements = [
        ("Nginx Proxy Manager admins", GROUP),
        ("name: NginX Token", f"name: {MAPPING}"),
        ("- NginX Token", f"- {MAPPING}"),
        ("Nginx Proxy Manager", PROVIDER),
        ("slug: nginx-proxy-manager\n", f"slug: {SLUG}\n"),
        ("http://nginx-proxy-manager:81", f"http://127.0.0.1:{STANDIN_PORT}"),
        ("- akadmin", f"- {USERNAME}"),
    ]
    for old, new in replacements:
        assert old in text, f"the blueprint no longer contains {old!r}; update the live test"
        text = text.replace(old, new)
    spec = directory / "live-npm.yaml"
    spec.write_text(text)
    expression = NPM_BLUEPRINT.parent / "nginx-proxy-manager-token.py"
    shutil.copy(expression, directory / expression.name)
    return spec


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


class LiveRun:
    """Runs the CLI and direct API calls through one validating session."""

    def __init__(self, session: requests.Session, base_url: str, scope_mapping_path: str) -> None:
        self.session = session
        self.api_url = base_url.rstrip("/") + "/api/v3/"
        self.scope_mapping_path = scope_mapping_path

    def cli(self, *args: Any) -> Outcome:
        result = CliRunner().invoke(cli.app, [str(arg) for arg in args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)

    def api(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> requests.Response:
        return self.session.request(
            method,
            self.api_url + path,
            params=params,
            data=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json"} if body is not None else None,
            timeout=60,
        )

    def first(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        response = self.api("GET", path, params=params)
        response.raise_for_status()
        results: list[dict[str, Any]] = response.json()["results"]
        return results[0] if results else None

    def cleanup(self) -> None:
        """Delete every object the scenarios create; an object already gone is fine."""
        self.api("DELETE", f"core/applications/{SLUG}/")
        provider = self.first("providers/proxy/", {"name__iexact": PROVIDER})
        if provider:
            self.api("DELETE", f"providers/proxy/{provider['pk']}/")
        mapping = self.first(self.scope_mapping_path, {"name": MAPPING})
        if mapping:
            self.api("DELETE", f"{self.scope_mapping_path}{mapping['pk']}/")
        group = self.first("core/groups/", {"name": GROUP})
        if group:
            self.api("DELETE", f"core/groups/{group['pk']}/")
        user = self.first("core/users/", {"username": USERNAME})
        if user:
            self.api("DELETE", f"core/users/{user['pk']}/")
        inventory = self.first("managed/blueprints/", {"name": f"provision: {STACK}"})
        if inventory:
            self.api("DELETE", f"managed/blueprints/{inventory['pk']}/")

    def create_user(self) -> int:
        response = self.api("POST", "core/users/", {"username": USERNAME, "name": "provision live test"})
        assert response.status_code == 201, response.text
        pk: int = response.json()["pk"]
        return pk


def npm_cycle(run: LiveRun, spec: Path, writes: Any) -> None:
    """validate, plan, apply, a no-op apply, drift, a change behind the tool's back, repair."""
    assert run.cli("validate", spec).exit_code == 0

    plan = run.cli("plan", spec)
    assert plan.exit_code == 0, plan.stderr
    assert "Plan: 4 to create, 1 to update" in plan.stdout

    first = run.cli("apply", "--auto-approve", *SEQUENTIAL, spec)
    assert first.exit_code == 0, first.stdout + first.stderr

    before = len(writes())
    second = run.cli("apply", "--auto-approve", *SEQUENTIAL, spec)
    assert second.exit_code == 0, second.stderr
    assert "No changes" in second.stdout
    assert writes()[before:] == []

    assert run.cli("drift", spec).exit_code == 0

    provider = run.first("providers/proxy/", {"name__iexact": PROVIDER})
    assert provider is not None
    changed = run.api(
        "PATCH",
        f"providers/proxy/{provider['pk']}/",
        {"mode": "forward_domain", "cookie_domain": "example.com"},
    )
    assert changed.status_code == 200, changed.text

    drift = run.cli("drift", spec)
    assert drift.exit_code == 2, drift.stdout + drift.stderr
    assert f'proxy_providers["{PROVIDER}"]' in drift.stdout
    assert 'mode: "forward_domain" -> "forward_single"' in drift.stdout

    assert run.cli("apply", "--auto-approve", *SEQUENTIAL, spec).exit_code == 0
    assert run.cli("drift", spec).exit_code == 0


def evaluate_mapping(run: LiveRun, user_pk: int) -> dict[str, Any]:
    """Ask authentik to run the scope mapping for the test user; return its result."""
    mapping = run.first(run.scope_mapping_path, {"name": MAPPING})
    assert mapping is not None
    response = run.api("POST", f"propertymappings/all/{mapping['pk']}/test/", {"user": user_pk})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["successful"] is True, answer["result"]
    result: dict[str, Any] = json.loads(answer["result"])
    return result


def expected_header() -> dict[str, Any]:
    return {"ak_proxy": {"user_attributes": {"additionalHeaders": {"X-Nginx-Token": STANDIN_TOKEN}}}}


def stack_spec(directory: Path, *, with_application: bool = True) -> Path:
    """The live spec with a stack, optionally without its application (to prune it)."""
    text = live_spec(directory).read_text().replace("version: 1\n", f"version: 1\nstack: {STACK}\n", 1)
    if not with_application:
        start = text.index("applications:")
        end = text.index("outposts:")
        text = text[:start] + text[end:]
    spec = directory / ("stack.yaml" if with_application else "stack-without-app.yaml")
    spec.write_text(text)
    return spec


def stack_cycle(run: LiveRun, directory: Path, writes: Any) -> None:
    """Ownership on a real server: the inventory, a rename found by id, prune, a no-op after."""
    full = stack_spec(directory)
    applied = run.cli("apply", "--auto-approve", *SEQUENTIAL, full)
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    inventory = run.first("managed/blueprints/", {"name": f"provision: {STACK}"})
    assert inventory is not None
    assert inventory["enabled"] is False
    assert set(inventory["context"]["provision"]["owned"]["applications"]) == {SLUG}

    group = run.first("core/groups/", {"name": GROUP})
    assert group is not None
    renamed = run.api("PATCH", f"core/groups/{group['pk']}/", {"name": f"{PREFIX} renamed by hand"})
    assert renamed.status_code == 200, renamed.text
    drift = run.cli("drift", full)
    assert drift.exit_code == 2
    assert f'name: "{PREFIX} renamed by hand" -> "{GROUP}"' in drift.stdout
    assert run.cli("apply", "--auto-approve", *SEQUENTIAL, full).exit_code == 0

    smaller = stack_spec(directory, with_application=False)
    assert run.cli("drift", smaller).exit_code == 2
    pruned = run.cli("apply", "--auto-approve", *SEQUENTIAL, "--prune", smaller)
    assert pruned.exit_code == 0, pruned.stdout + pruned.stderr
    assert f'deleted applications["{SLUG}"]' in pruned.stdout
    assert run.api("GET", f"core/applications/{SLUG}/").status_code == 404

    before = len(writes())
    assert run.cli("apply", "--auto-approve", *SEQUENTIAL, "--prune", smaller).exit_code == 0
    assert writes()[before:] == []
