"""Carry out a plan: stage by stage in dependency order, with bounded parallel writes in a stage."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from provision.api.errors import ApiError
from provision.errors import EXIT_INTERRUPTED, ProvisionError
from provision.ownership import OWNED_SECTIONS, Inventory, inventory_content, inventory_name
from provision.plan.model import Action, Plan, ResourceChange
from provision.resources import RESOURCES
from provision.resources.base import ApplyContext
from provision.spec.load import SpecFile
from provision.state import Index, LiveState

if TYPE_CHECKING:
    from provision.api.client import AuthentikClient

log = logging.getLogger("provision.apply")

Reporter = Callable[[str, ResourceChange, str], None]


@dataclass
class ApplyResult:
    """Outcome of an apply: the objects applied, those that failed (with authentik's message), and those skipped."""

    applied: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    writes: int = 0

    def summary(self) -> str:
        lines = [f"applied: {', '.join(self.applied) or 'nothing'}"]
        lines += [f"failed: {address}: {message}" for address, message in self.failed]
        if self.skipped:
            lines.append(f"skipped (they depend on a failed object): {', '.join(self.skipped)}")
        return "\n  ".join(lines)


class ApplyFailed(ProvisionError):
    """A failed write. The message names the object, authentik's response and what was applied."""

    def __init__(self, result: ApplyResult, hint: str | None) -> None:
        super().__init__(
            f"apply did not finish\n  {result.summary()}",
            hint=hint or "Fix the cause and run apply again; it converges without duplicates.",
        )
        self.result = result


class ApplyInterrupted(ProvisionError):
    """Ctrl-C during the writes; the message lists what was already applied."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, result: ApplyResult) -> None:
        super().__init__(
            f"interrupted\n  {result.summary()}",
            hint="Run apply again to finish; it converges without duplicates.",
        )
        self.result = result


def apply_plan(
    plan: Plan,
    spec_file: SpecFile,
    state: LiveState,
    client: AuthentikClient,
    report: Reporter,
    *,
    parallelism: int = 1,
    continue_on_error: bool = False,
) -> ApplyResult:
    """Send the writes of every pending change, stage by stage in dependency order.

    Changes within a stage run concurrently, up to `parallelism` at a time, and their
    reports are printed in plan order. The first failure stops the apply after the
    stage's running writes finish; with `continue_on_error` only the failed object's
    dependents are skipped. Whatever happened, the stack's inventory is saved
    afterwards, so objects created before a failure stay owned and the next apply
    converges instead of duplicating them.
    """
    result = ApplyResult()
    writes_before = client.write_count
    inventory = state.inventory.copy() if state.inventory is not None else None
    ctx = ApplyContext(
        client=client,
        state=state,
        spec_file=spec_file,
        report=report,
        located=dict(plan.located),
        inventory=inventory,
    )
    _forget_vanished(ctx)
    blocked: set[str] = set()
    hint: str | None = None
    try:
        for stage in apply_stages(plan, spec_file):
            runnable = []
            for change in stage:
                if change.address in blocked:
                    result.skipped.append(change.address)
                else:
                    runnable.append(change)
            for change, error in _run_stage(runnable, spec_file, ctx, parallelism, result):
                result.failed.append((change.address, _error_text(error)))
                hint = hint or error.hint
                blocked |= dependents(spec_file, change)
            if result.failed and not continue_on_error:
                break
    except KeyboardInterrupt:
        raise ApplyInterrupted(result) from None
    finally:
        if inventory is not None and state.inventory is not None:
            save_inventory(client, state.inventory, inventory)
        result.writes = client.write_count - writes_before
    if result.failed:
        raise ApplyFailed(result, hint)
    return result


def _run_stage(
    changes: list[ResourceChange],
    spec_file: SpecFile,
    ctx: ApplyContext,
    parallelism: int,
    result: ApplyResult,
) -> list[tuple[ResourceChange, ApiError | ProvisionError]]:
    """Apply one stage; print each change's reports in plan order; return the failures."""
    resources = {resource.section: resource for resource in RESOURCES}
    buffers: dict[int, list[tuple[str, ResourceChange, str]]] = {index: [] for index in range(len(changes))}
    outcomes: dict[int, ApiError | ProvisionError | None] = {}
    printed = 0

    def work(index: int, change: ResourceChange) -> ApiError | ProvisionError | None:
        local = replace(ctx, report=lambda verb, item, detail: buffers[index].append((verb, item, detail)))
        try:
            if change.action is Action.DELETE:
                resources[change.section].delete(change, local)
            else:
                resources[change.section].write(change, _spec_object(spec_file, change), local)
        except (ApiError, ProvisionError) as error:
            return error
        return None

    def flush() -> None:
        nonlocal printed
        while printed in outcomes:
            for verb, item, detail in buffers[printed]:
                ctx.report(verb, item, detail)
            if outcomes[printed] is None:
                result.applied.append(changes[printed].address)
            printed += 1

    if parallelism <= 1 or len(changes) <= 1:
        for index, change in enumerate(changes):
            outcomes[index] = work(index, change)
            flush()
            if outcomes[index] is not None:
                break  # sequential: nothing after a failure in this stage
    else:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            futures = {pool.submit(work, index, change): index for index, change in enumerate(changes)}
            for future in as_completed(futures):
                outcomes[futures[future]] = future.result()
                flush()
    return [(changes[index], error) for index, error in sorted(outcomes.items()) if error is not None]


def _error_text(error: ApiError | ProvisionError) -> str:
    if isinstance(error, ApiError) and error.server_message:
        return f"{error.message} (authentik said: {error.server_message})"
    return error.message


def apply_stages(plan: Plan, spec_file: SpecFile) -> list[list[ResourceChange]]:
    """Group the pending changes into stages whose changes do not depend on each other.

    Scope mappings and top-level groups come first, each group a stage after its parents.
    Proxy providers follow the mappings they carry, outposts the providers, and
    applications both the providers and the groups their access names. Then come the
    memberships that left the spec, and deletes in reverse dependency order.
    """
    depth = _group_depths(spec_file)
    group_levels = max(depth.values(), default=0) + 1
    first_stage = {
        "scope_mappings": 0,
        "proxy_providers": 1,
        "outposts": 2,
        "applications": max(group_levels, 2),
    }
    last_write_stage = max(first_stage.values())
    delete_order = {"applications": 0, "proxy_providers": 1, "scope_mappings": 2, "groups": 3}
    stages: dict[int, list[ResourceChange]] = {}
    group_deletes = 0
    for change in plan.pending:
        if change.action is Action.DELETE and change.section == "groups":
            # One at a time, in the order prune chose: children before their parents.
            key = last_write_stage + 2 + delete_order["groups"] + group_deletes
            group_deletes += 1
        elif change.action is Action.DELETE:
            key = last_write_stage + 2 + delete_order[change.section]
        elif change.key not in _spec_keys(spec_file, change.section):
            key = last_write_stage + 1  # memberships of objects the spec no longer names
        elif change.section == "groups":
            key = depth.get(change.key, 0)
        else:
            key = first_stage[change.section]
        stages.setdefault(key, []).append(change)
    return [stages[key] for key in sorted(stages)]


def dependents(spec_file: SpecFile, change: ResourceChange) -> set[str]:
    """Return the addresses of every spec object that refers, directly or not, to the changed object."""
    spec = spec_file.spec
    edges: dict[str, set[str]] = {}

    def add(source: str, target: str) -> None:
        edges.setdefault(target, set()).add(source)

    for group in spec.groups:
        for parent in group.parents or []:
            add(f'groups["{group.name}"]', f'groups["{parent}"]')
    for provider in spec.proxy_providers:
        for mapping in provider.property_mappings or []:
            add(f'proxy_providers["{provider.name}"]', f'scope_mappings["{mapping}"]')
    for application in spec.applications:
        if application.provider:
            add(f'applications["{application.slug}"]', f'proxy_providers["{application.provider}"]')
        for group_name in application.access or []:
            add(f'applications["{application.slug}"]', f'groups["{group_name}"]')
    for outpost in spec.outposts:
        for provider_name in outpost.providers:
            add(f'outposts["{outpost.name}"]', f'proxy_providers["{provider_name}"]')

    found: set[str] = set()
    pending = [change.address]
    while pending:
        for source in edges.get(pending.pop(), set()):
            if source not in found:
                found.add(source)
                pending.append(source)
    return found


def _group_depths(spec_file: SpecFile) -> dict[str, int]:
    parents = {group.name: list(group.parents or []) for group in spec_file.spec.groups}
    depths: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name in depths:
            return depths[name]
        inside = [parent for parent in parents.get(name, []) if parent in parents and parent not in seen]
        value = 1 + max((depth(parent, seen | {name}) for parent in inside), default=-1)
        depths[name] = value
        return value

    for name in parents:
        depth(name, frozenset())
    return depths


def _spec_keys(spec_file: SpecFile, section: str) -> set[str]:
    key = "slug" if section == "applications" else "name"
    return {str(getattr(item, key)) for item in getattr(spec_file.spec, section)}


def adopt(plan: Plan, state: LiveState, client: AuthentikClient) -> int:
    """Record the plan's adoptable objects as owned by the stack; return how many were adopted."""
    if state.inventory is None:
        raise ProvisionError(
            "only a spec with a `stack` can adopt objects", hint="Add `stack: NAME` to the spec."
        )
    inventory = state.inventory.copy()
    for section, key, pk in plan.adoptions:
        inventory.record(section, key, pk)
    save_inventory(client, state.inventory, inventory)
    return len(plan.adoptions)


def save_inventory(client: AuthentikClient, before: Inventory, after: Inventory) -> None:
    """Write the stack's inventory if it changed: one request, or none."""
    if after.context() == before.context():
        return
    # authentik checks "path or content must be set" against the request's own fields, so
    # every write repeats `content` (seen on 2024.10.5 and 2025.12.4).
    body = {"content": inventory_content(after.stack), "enabled": False, "context": after.context()}
    if after.pk is None:
        created = client.post("managed/blueprints/", {"name": inventory_name(after.stack), **body})
        after.pk = created["pk"]
    else:
        client.patch(f"managed/blueprints/{after.pk}/", body)
    log.info("saved the inventory of stack %s", after.stack)


def _forget_vanished(ctx: ApplyContext) -> None:
    """Drop owned objects that no longer exist in authentik from the inventory."""
    if ctx.inventory is None:
        return
    for section in OWNED_SECTIONS:
        if section not in ctx.state.fetched:
            continue
        index: Index = getattr(ctx.state, section)
        for key, pk in list(ctx.inventory.owned[section].items()):
            if pk not in index.by_pk:
                ctx.inventory.forget(section, key)


def _spec_object(spec_file: SpecFile, change: ResourceChange) -> object | None:
    """Return the spec's object for a change, or None for a membership the spec no longer names."""
    key = "slug" if change.section == "applications" else "name"
    items: list[object] = list(getattr(spec_file.spec, change.section))
    return next((item for item in items if getattr(item, key) == change.key), None)
