"""A no-op plan reads one paginated list per kind: its requests grow with pages, not objects."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.specs import spec_text
from provision import state as state_module
from tests.cli_harness import ProvisionRunner
from tests.fake_authentik import FakeAuthentik

# 300 objects and 50 access bindings. authentik 2025.12 pages by 100, so the groups (and
# the groups authentik seeds) take two pages and every other kind one.
COUNTS = {"groups": 150, "scope_mappings": 50, "proxy_providers": 50, "applications": 50}


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


def test_noop_plan_reads_pages(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text(COUNTS, "count-", "count"))
    assert run("apply", "--auto-approve", spec).exit_code == 0
    fake.reset_log()

    outcome = run("plan", spec)

    assert "Plan: 0 to create, 0 to update, 0 to delete, 300 unchanged." in outcome.stdout
    assert {request.method for request in fake.requests} == {"GET"}
    # Every read but the version is a page of a list, never a single object.
    assert all("page" in r.query for r in fake.requests if r.path != "/admin/version/")
    reads = Counter(request.path for request in fake.requests)
    assert reads["/core/groups/"] == 2
    assert sum(reads.values()) == len(reads) + 1  # one read per list, plus the groups' second page


def test_plan_reads_users_once(fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path) -> None:
    usernames = [f"member-{i}" for i in range(5)]
    for username in usernames:
        fake.add_user(username)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\ngroups:\n  - name: members\n    members: {usernames}\n")

    run("plan", spec)

    assert sum(request.path == "/core/users/" for request in fake.requests) == 1


def test_new_stack_reads_clash_lists_early(
    fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack that does not own its objects yet reads the all-types lists with the first reads."""
    batches: list[list[str]] = []
    original = state_module.read_lists

    def recording(client: Any, reads: Any, parallelism: int = 1) -> Any:
        batches.append([path for path, _ in reads])
        return original(client, reads, parallelism)

    monkeypatch.setattr(state_module, "read_lists", recording)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        spec_text(
            {"groups": 2, "scope_mappings": 2, "proxy_providers": 2, "applications": 2}, "early-", "early"
        )
    )

    assert run("apply", "--auto-approve", spec).exit_code == 0
    first_apply, batches[:] = list(batches), []
    assert run("plan", spec).exit_code == 0

    assert "providers/all/" in first_apply[0]
    assert "propertymappings/all/" in first_apply[0]
    assert [path for batch in first_apply[1:] for path in batch] == []
    assert not any("providers/all/" in batch or "propertymappings/all/" in batch for batch in batches)
