"""Find what a stack owns but its spec no longer names: objects to delete, memberships to undo."""

from __future__ import annotations

from typing import Any

from provision.ownership import OWNED_SECTIONS
from provision.plan.model import Action, FieldChange, ResourceChange
from provision.spec.load import SpecFile
from provision.state import Index, LiveState


def orphan_changes(spec_file: SpecFile, state: LiveState) -> list[ResourceChange]:
    """The changes `apply --prune` makes, in order: memberships first, then deletes in reverse dependency order."""
    inventory = state.inventory
    if inventory is None:
        return []
    spec = spec_file.spec
    deleted_groups = {
        key for key in inventory.owned["groups"] if key not in {group.name for group in spec.groups}
    }
    changes = _orphan_members(spec_file, state, deleted_groups)
    changes += _orphan_outpost_providers(spec_file, state)

    for section in reversed(OWNED_SECTIONS):
        key_field = "slug" if section == "applications" else "name"
        in_spec = {str(getattr(item, key_field)) for item in getattr(spec, section)}
        index: Index = getattr(state, section)
        orphans = [
            (key, index.by_pk[pk])
            for key, pk in inventory.owned[section].items()
            if key not in in_spec and pk in index.by_pk
        ]
        if section == "groups":
            orphans.sort(key=lambda item: -_depth(item[1], state))  # children before their parents
        for key, live in orphans:
            live_id = live["slug"] if section == "applications" else live["pk"]
            changes.append(ResourceChange(section, key, Action.DELETE, live_id=live_id))
    return changes


def _orphan_members(spec_file: SpecFile, state: LiveState, deleted_groups: set[str]) -> list[ResourceChange]:
    assert state.inventory is not None
    in_spec = {group.name for group in spec_file.spec.groups}
    changes = []
    for group, added in sorted(state.inventory.added_members.items()):
        if group in in_spec or group in deleted_groups or not added:
            continue
        live = state.groups.get(group)
        if live is None:
            continue
        members = set(live.get("users") or [])
        present = sorted(name for name in added if (user := state.users.get(name)) and user["pk"] in members)
        if present:
            field = FieldChange.of("members", present, [], set_like=True)
            changes.append(ResourceChange("groups", group, Action.UPDATE, (field,), live_id=live["pk"]))
    return changes


def _orphan_outpost_providers(spec_file: SpecFile, state: LiveState) -> list[ResourceChange]:
    assert state.inventory is not None
    in_spec = {outpost.name for outpost in spec_file.spec.outposts}
    changes = []
    for outpost, added in sorted(state.inventory.added_outpost_providers.items()):
        if outpost in in_spec or not added:
            continue
        live = state.outposts.get(outpost)
        if live is None:
            continue
        attached = {state.proxy_providers.name_of(pk) for pk in live.get("providers") or []}
        present = sorted(name for name in added if name in attached)
        if present:
            field = FieldChange.of("providers", present, [], set_like=True)
            changes.append(ResourceChange("outposts", outpost, Action.UPDATE, (field,), live_id=live["pk"]))
    return changes


def _depth(group: dict[str, Any], state: LiveState) -> int:
    parents = list(group.get("parents") or ([group["parent"]] if group.get("parent") else []))
    seen: set[Any] = set()
    depth = 0
    while parents and depth < 100:
        depth += 1
        next_parents = []
        for pk in parents:
            if pk in seen:
                continue
            seen.add(pk)
            parent = state.groups.by_pk.get(pk) or {}
            next_parents += list(
                parent.get("parents") or ([parent["parent"]] if parent.get("parent") else [])
            )
        parents = next_parents
    return depth
