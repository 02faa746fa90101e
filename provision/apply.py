"""Carry out a plan: one kind after another in dependency order, stopping at the first failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from provision.api.client import AuthentikClient
from provision.api.errors import ApiError
from provision.errors import ProvisionError
from provision.plan.model import Plan, ResourceChange
from provision.resources import RESOURCES
from provision.resources.base import ApplyContext
from provision.spec.load import SpecFile
from provision.state import LiveState

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


def apply_plan(
    plan: Plan, spec_file: SpecFile, state: LiveState, client: AuthentikClient, report: Reporter
) -> ApplyResult:
    """Send the writes of every pending change; raise `ApplyFailed` at the first rejected one."""
    result = ApplyResult()
    writes_before = client.write_count
    ctx = ApplyContext(client=client, state=state, spec_file=spec_file, report=report)
    resources = {resource.section: resource for resource in RESOURCES}
    for change in plan.pending:
        resource = resources[change.section]
        obj = _spec_object(spec_file, change)
        try:
            resource.write(change, obj, ctx)
        except ApiError as error:
            result.writes = client.write_count - writes_before
            raise ApplyFailed(change, error, result) from error
        result.applied.append(change.address)
    result.writes = client.write_count - writes_before
    return result


def _spec_object(spec_file: SpecFile, change: ResourceChange) -> object:
    key = "slug" if change.section == "applications" else "name"
    for item in getattr(spec_file.spec, change.section):
        if getattr(item, key) == change.key:
            return item
    raise AssertionError(f"{change.address} is in the plan but not in the spec")
