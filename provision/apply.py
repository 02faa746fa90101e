"""Carry out a plan: one kind after another in dependency order, stopping at the first failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from provision.api.client import AuthentikClient
from provision.api.errors import ApiError
from provision.errors import EXIT_INTERRUPTED, ProvisionError
from provision.ownership import OWNED_SECTIONS, Inventory, inventory_content, inventory_name
from provision.plan.model import Action, Plan, ResourceChange
from provision.resources import RESOURCES
from provision.resources.base import ApplyContext
from provision.spec.load import SpecFile
from provision.state import Index, LiveState

log = logging.getLogger("provision.apply")

Reporter = Callable[[str, ResourceChange, str], None]


@dataclass
class ApplyResult:
    """What an apply did."""

    applied: list[str] = field(default_factory=list)
    writes: int = 0


class ApplyFailed(ProvisionError):
    """A write failed; the message names the object and the server's answer."""

    def __init__(self, change: ResourceChange, error: ApiError, result: ApplyResult) -> None:
        details = error.server_message
        message = f"{change.address}: {error.message}"
        if details:
            message += f"\n  authentik said: {details}"
        if result.applied:
            message += f"\n  already applied: {', '.join(result.applied)}"
        super().__init__(
            message,
            hint=error.hint or "Fix the value in the spec and run apply again; it converges.",
        )
        self.result = result


class ApplyInterrupted(ProvisionError):
    """Ctrl-C during the writes; the message lists what was already applied."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, change: ResourceChange, result: ApplyResult) -> None:
        message = f"interrupted while applying {change.address}"
        if result.applied:
            message += f"\n  already applied: {', '.join(result.applied)}"
        super().__init__(message, hint="Run apply again to finish; it converges without duplicates.")
        self.result = result


def apply_plan(
    plan: Plan, spec_file: SpecFile, state: LiveState, client: AuthentikClient, report: Reporter
) -> ApplyResult:
    """Send the writes of every pending change; raise `ApplyFailed` at the first rejected one.

    Whatever happened, the stack's inventory is saved afterwards, so objects created before a
    failure stay owned and the next apply converges instead of duplicating them.
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
    resources = {resource.section: resource for resource in RESOURCES}
    try:
        for change in plan.pending:
            resource = resources[change.section]
            try:
                if change.action is Action.DELETE:
                    resource.delete(change, ctx)
                else:
                    resource.write(change, _spec_object(spec_file, change), ctx)
            except ApiError as error:
                raise ApplyFailed(change, error, result) from error
            except KeyboardInterrupt:
                raise ApplyInterrupted(change, result) from None
            result.applied.append(change.address)
    finally:
        if inventory is not None and state.inventory is not None:
            save_inventory(client, state.inventory, inventory)
        result.writes = client.write_count - writes_before
    return result


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
    """The spec's object for a change; None for a membership the spec no longer names."""
    key = "slug" if change.section == "applications" else "name"
    items: list[object] = list(getattr(spec_file.spec, change.section))
    return next((item for item in items if getattr(item, key) == change.key), None)
