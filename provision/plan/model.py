"""The plan as typed values: per object an action, and per field its old and new value."""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from provision.api.releases import Release
from provision.secrets import MASK


def printable(text: str) -> str:
    """Escape control and format characters (such as right-to-left overrides) so a plan shows what a name really holds."""
    return "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in _HIDDEN_CATEGORIES else char for char in text
    )


_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


class _Absent:
    """Marks a field that has no value on one side (a create's `before`)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()

FORMAT_VERSION = 1


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "no-op"


class Deferred:
    """A reference to an object outside the spec, resolved only when `apply` runs (offline plans)."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name

    def __repr__(self) -> str:
        return f"Deferred({self.kind}, {self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deferred) and (self.kind, self.name) == (other.kind, other.name)

    def __hash__(self) -> int:
        return hash((self.kind, self.name))


@dataclass(frozen=True)
class FieldChange:
    """One field that differs. Sensitive values are replaced by a mask when the change is built."""

    field: str
    before: Any
    after: Any
    sensitive: bool = False
    set_like: bool = False

    @classmethod
    def of(
        cls, field: str, before: Any, after: Any, *, sensitive: bool = False, set_like: bool = False
    ) -> FieldChange:
        if sensitive:
            before = before if before is ABSENT or before is None else MASK
            after = after if after is ABSENT or after is None else MASK
        return cls(field, before, after, sensitive, set_like)

    @property
    def added(self) -> list[Any]:
        before = self.before if isinstance(self.before, list) else []
        return [item for item in (self.after or []) if item not in before]

    @property
    def removed(self) -> list[Any]:
        after = self.after if isinstance(self.after, list) else []
        return [item for item in (self.before or []) if item not in after]


@dataclass(frozen=True)
class ResourceChange:
    """What the plan does to one object."""

    section: str
    key: str
    action: Action
    fields: tuple[FieldChange, ...] = ()
    live_id: str | int | None = None

    @property
    def address(self) -> str:
        return f'{self.section}["{printable(self.key)}"]'

    def field(self, name: str) -> FieldChange | None:
        return next((change for change in self.fields if change.field == name), None)


@dataclass(frozen=True)
class Plan:
    """Every object's change, in apply order, with the warnings found on the way."""

    changes: tuple[ResourceChange, ...]
    release: Release | None
    url: str | None
    offline: bool = False
    warnings: tuple[str, ...] = ()
    deferred: tuple[str, ...] = field(default=())
    # Owned objects (or added memberships) that left the spec: deleted by `apply --prune`.
    orphans: tuple[ResourceChange, ...] = ()
    prune: bool = False
    # Existing objects that `import` adopts into the stack: (section, key, primary key).
    adoptions: tuple[tuple[str, str, Any], ...] = ()
    # The live object found for each spec object, by (section, key); apply resolves references with it.
    located: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, compare=False)

    @property
    def pending(self) -> tuple[ResourceChange, ...]:
        """The changes apply makes, in order; orphans only with prune."""
        pending = tuple(change for change in self.changes if change.action is not Action.NOOP)
        return pending + self.orphans if self.prune else pending

    @property
    def has_changes(self) -> bool:
        return bool(self.pending)

    @property
    def drifted(self) -> tuple[ResourceChange, ...]:
        """Everything that differs from the spec, orphans included, whether or not apply prunes."""
        return tuple(change for change in self.changes if change.action is not Action.NOOP) + self.orphans

    def count(self, action: Action) -> int:
        changes = self.changes + self.orphans if self.prune else self.changes
        return sum(1 for change in changes if change.action is action)
