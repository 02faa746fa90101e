"""Which objects a stack owns, recorded inside authentik itself.

authentik objects have no label field, so each stack keeps an inventory in a
blueprint instance named `provision: <stack>`. The instance is disabled and
its blueprint has no entries, so authentik never applies it; its `context`
contains the primary keys of the objects the stack created or adopted, and the
memberships it added to objects it does not own (group members, outpost
providers). A pipeline therefore needs no state file, and several stacks can
manage different objects on one instance.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

INVENTORY_PREFIX = "provision: "
INVENTORY_FORMAT = 1
# Kinds whose objects a stack can own, in apply order.
OWNED_SECTIONS = ("groups", "scope_mappings", "proxy_providers", "applications")


def inventory_name(stack: str) -> str:
    return f"{INVENTORY_PREFIX}{stack}"


def inventory_content(stack: str) -> str:
    """Build the blueprint text of an inventory instance: valid, empty, and never instantiated."""
    return (
        f"# Inventory of the provision stack {stack!r}: the objects it manages are listed\n"
        "# in this instance's context. It has no entries and stays disabled.\n"
        "version: 1\n"
        "metadata:\n"
        f'  name: "{inventory_name(stack)}"\n'
        "  labels:\n"
        '    blueprints.goauthentik.io/instantiate: "false"\n'
        "entries: []\n"
    )


@dataclass
class Inventory:
    """One stack's inventory: primary keys by spec key, and the memberships the stack added."""

    stack: str
    pk: str | None = None
    owned: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {section: {} for section in OWNED_SECTIONS}
    )
    added_members: dict[str, list[str]] = field(default_factory=dict)
    added_outpost_providers: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_instance(cls, record: dict[str, Any]) -> Inventory | None:
        """Read an inventory from a blueprint instance; None if it is not one of ours."""
        name = str(record.get("name", ""))
        context = (record.get("context") or {}).get("provision")
        if not name.startswith(INVENTORY_PREFIX) or not isinstance(context, dict):
            return None
        inventory = cls(stack=name[len(INVENTORY_PREFIX) :], pk=record.get("pk"))
        owned = context.get("owned") or {}
        for section in OWNED_SECTIONS:
            entries = owned.get(section) or {}
            inventory.owned[section] = {str(key): value for key, value in entries.items()}
        inventory.added_members = {str(k): list(v) for k, v in (context.get("added_members") or {}).items()}
        inventory.added_outpost_providers = {
            str(k): list(v) for k, v in (context.get("added_outpost_providers") or {}).items()
        }
        return inventory

    def context(self) -> dict[str, Any]:
        return {
            "provision": {
                "format_version": INVENTORY_FORMAT,
                "stack": self.stack,
                "owned": {section: dict(sorted(self.owned[section].items())) for section in OWNED_SECTIONS},
                "added_members": {
                    key: sorted(value) for key, value in sorted(self.added_members.items()) if value
                },
                "added_outpost_providers": {
                    key: sorted(value) for key, value in sorted(self.added_outpost_providers.items()) if value
                },
            }
        }

    def copy(self) -> Inventory:
        return copy.deepcopy(self)

    def owns(self, section: str, pk: Any) -> bool:
        return any(_same_pk(value, pk) for value in self.owned.get(section, {}).values())

    def key_of(self, section: str, pk: Any) -> str | None:
        for key, value in self.owned.get(section, {}).items():
            if _same_pk(value, pk):
                return key
        return None

    def record(self, section: str, key: str, pk: Any) -> None:
        entries = self.owned.setdefault(section, {})
        for other in [name for name, value in entries.items() if _same_pk(value, pk) and name != key]:
            del entries[other]
        entries[key] = pk

    def forget(self, section: str, key: str) -> None:
        self.owned.get(section, {}).pop(key, None)

    @staticmethod
    def _adjust(table: dict[str, list[str]], key: str, added: list[str], removed: list[str]) -> None:
        items = [item for item in table.get(key, []) if item not in removed]
        items += [item for item in added if item not in items]
        table[key] = items

    def note_members(self, group: str, added: list[str], removed: list[str]) -> None:
        self._adjust(self.added_members, group, added, removed)

    def note_outpost_providers(self, outpost: str, added: list[str], removed: list[str]) -> None:
        self._adjust(self.added_outpost_providers, outpost, added, removed)


def _same_pk(left: Any, right: Any) -> bool:
    return str(left) == str(right)
