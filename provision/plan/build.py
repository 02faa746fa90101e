"""Compute a plan from a spec and the live state. Pure: it reads no network and writes nothing."""

from __future__ import annotations

import logging
from typing import Any

from provision.errors import SpecError
from provision.plan.model import Plan, ResourceChange
from provision.plan.prune import orphan_changes
from provision.resources import RESOURCES
from provision.resources.base import PlanContext
from provision.secrets import Secret, is_password_like
from provision.spec.load import SpecFile
from provision.state import LiveState

log = logging.getLogger("provision.plan")


def build_plan(
    spec_file: SpecFile,
    state: LiveState,
    *,
    warnings: tuple[str, ...] = (),
    prune: bool = False,
    adopt: bool = False,
) -> Plan:
    """Diff every object of the spec against `state`; raise `SpecError` for unresolvable references.

    With `prune`, the owned objects that left the spec are deleted by the plan; without it they
    are listed as orphans. With `adopt`, existing objects the stack does not own are not an
    error but listed for adoption (`provision import`).
    """
    ctx = PlanContext(spec_file=spec_file, state=state, adopt=adopt)
    ctx.warnings.extend(warnings)
    ctx.warnings.extend(spec_file.warnings)
    ctx.warnings.extend(_literal_secret_warnings(spec_file))

    changes: list[ResourceChange] = []
    for resource in RESOURCES:
        in_file_order = list(getattr(spec_file.spec, resource.section))
        for obj in resource.spec_objects(spec_file):
            index = next(position for position, item in enumerate(in_file_order) if item is obj)
            change = resource.plan(obj, index, ctx)
            log.debug(
                "%s: %s (%s)", change.address, change.action, ", ".join(f.field for f in change.fields) or "-"
            )
            changes.append(change)

    if ctx.problems:
        raise SpecError(ctx.problems)
    orphans = tuple(orphan_changes(spec_file, state))
    return Plan(
        changes=tuple(changes),
        release=state.release,
        url=state.url,
        offline=state.offline,
        warnings=tuple(ctx.warnings),
        deferred=tuple(sorted(ctx.deferred)),
        orphans=orphans,
        prune=prune,
        adoptions=tuple(ctx.adoptions),
        located=ctx.located,
    )


def _literal_secret_warnings(spec_file: SpecFile) -> list[str]:
    """Warn about password-like group attributes written into the spec as plain text."""
    warnings = []
    for group in spec_file.spec.groups:
        for key, value in _walk(group.attributes or {}):
            if is_password_like(key) and isinstance(value, str) and value and not isinstance(value, Secret):
                warnings.append(
                    f'groups["{group.name}"].attributes.{key} looks like a password written in the spec; '
                    f"use `!env NAME` or `!file PATH` so it stays out of the repository and the output"
                )
    return warnings


def _walk(value: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    pairs = []
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(item, dict):
            pairs += _walk(item, name)
        else:
            pairs.append((name, item))
    return pairs
