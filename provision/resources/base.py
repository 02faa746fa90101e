"""What every kind of object shares: planning contexts, field comparison and the write protocol.

A resource turns a spec object into `desired` field values and a live object
into `observed` values, both in the spec's vocabulary (names, not primary
keys). The planner diffs the two; `write` turns the plan back into API
requests, resolving names to primary keys only then, so objects created
earlier in the same apply can be referred to.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from provision.api.errors import ConnectionFailed, NotFound, ServerError
from provision.api.releases import Release
from provision.errors import ProvisionError, SpecProblem
from provision.ownership import OWNED_SECTIONS, Inventory
from provision.plan.compare import same_duration, same_expression, same_json, same_set
from provision.plan.model import ABSENT, Action, Deferred, FieldChange, ResourceChange
from provision.secrets import contains_secret, is_password_like
from provision.spec.load import SpecFile
from provision.spec.loader import YamlPath
from provision.state import Index, LiveState

if TYPE_CHECKING:
    from provision.api.client import AuthentikClient

log = logging.getLogger("provision.apply")

# Statuses after which a POST may or may not have been carried out: a gateway or
# the server failed while (or after) handling it.
AMBIGUOUS_STATUSES = frozenset({500, 502, 503, 504})

# How a field is compared; anything not listed compares as JSON by value.
PLAIN = "plain"
SET = "set"  # order does not matter; the spec's list is the whole list
SUBSET = "subset"  # the spec's items are added; others are left alone
EXPRESSION = "expression"
DURATION = "duration"


@dataclass
class PlanContext:
    """Planning context: the spec, the live state, and the problems and warnings found so far."""

    spec_file: SpecFile
    state: LiveState
    adopt: bool = False
    problems: list[SpecProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    deferred: set[str] = field(default_factory=set)
    # The live object found for each spec object, by (section, key).
    located: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # Proxy providers already given to an application of the spec: provider name -> slug.
    claimed_providers: dict[str, str] = field(default_factory=dict)
    # Existing objects that `import` would adopt: (section, key, primary key).
    adoptions: list[tuple[str, str, Any]] = field(default_factory=list)

    @property
    def release(self) -> Release:
        return self.state.release

    def problem(self, path: YamlPath, message: str, hint: str | None = None) -> None:
        self.problems.append(self.spec_file.problem(path, message, hint))

    def in_spec(self, section: str, name: str) -> bool:
        key = "slug" if section == "applications" else "name"
        return any(getattr(item, key) == name for item in getattr(self.spec_file.spec, section, []))

    def reference(self, section: str, name: str, path: YamlPath, what: str) -> Any:
        """Check that `name` exists in the spec or in authentik; return it, or a `Deferred` offline."""
        if section in (
            "groups",
            "scope_mappings",
            "proxy_providers",
            "applications",
        ) and self.in_spec(section, name):
            return name
        index: Index = getattr(self.state, section)
        matches = index.all_named(name)
        if len(matches) == 1:
            return name
        if len(matches) > 1:
            self.problem(
                path,
                f"{what} {name!r} matches {len(matches)} objects in authentik",
                f"Rename the duplicates in authentik so that {name!r} is unique.",
            )
            return name
        if self.state.offline:
            self.deferred.add(f"{what} {name!r}")
            return Deferred(section, name)
        self.problem(path, f"{what} {name!r} not found in the spec or in authentik", _not_found_hint(section))
        return name


def _not_found_hint(section: str) -> str:
    hints = {
        "flows": "Use the slug of an existing flow, such as default-provider-authorization-implicit-consent.",
        "users": "Create the user in authentik first, or remove it from members.",
        "outposts": "provision manages outpost membership only; create the outpost in authentik first.",
        "certificates": "Use the name of an existing certificate-key pair, such as authentik Self-signed Certificate.",
    }
    return hints.get(section, "Check the spelling, or add the object to the spec.")


@dataclass
class ApplyContext:
    """Apply context: the client, the state the plan was made from, and the objects created so far."""

    client: AuthentikClient
    state: LiveState
    spec_file: SpecFile
    report: Callable[[str, ResourceChange, str], None]
    located: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    inventory: Inventory | None = None
    created: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # Guards `created`, `located` and the inventory when writes run in parallel.
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def release(self) -> Release:
        return self.state.release

    def live(self, section: str, name: str) -> dict[str, Any]:
        """Return the object called `name`: created in this apply, or read with the state."""
        if (section, name) in self.created:
            return self.created[(section, name)]
        if (section, name) in self.located:
            return self.located[(section, name)]
        index: Index = getattr(self.state, section)
        found = index.get(name)
        if found is None:
            raise ProvisionError(f"{section} {name!r} disappeared from authentik while applying")
        return found

    def pk(self, section: str, name: str, pk_field: str = "pk") -> Any:
        return self.live(section, name)[pk_field]

    def remember_created(self, section: str, key: str, created: dict[str, Any]) -> None:
        """Keep a new object for later references, and record it as owned by the stack."""
        with self.lock:
            self.created[(section, key)] = created
            if self.inventory is not None:
                self.inventory.record(section, key, created["pk"])

    def create(self, path: str, body: dict[str, Any], lookup: Callable[[], dict[str, Any] | None]) -> Any:
        """POST a new object; after an ambiguous failure, look it up before sending the POST again.

        A timeout or a dropped connection leaves open whether authentik created the
        object, and a blind retry could create it twice. The POST is sent up to
        `ConnectionSettings.retries` times, because a restarting server worker can drop
        several pooled connections in a row.
        """
        attempts = max(self.client.settings.retries, 1)
        attempt = 1
        while True:
            try:
                return self.client.post(path, body)
            except (ConnectionFailed, ServerError) as error:
                if isinstance(error, ServerError) and error.status not in AMBIGUOUS_STATUSES:
                    raise
                # Server errors name the request already, but connection errors name only the server.
                failure = error.message if path in error.message else f"POST /api/v3/{path}: {error.message}"
                log.warning("%s; checking whether the POST created the object", failure)
                # Also after the last attempt: an object created there must still be recorded.
                existing = lookup()
                if existing is not None:
                    log.warning("POST /api/v3/%s had created the object; continuing with it", path)
                    return existing
                if attempt == attempts:
                    log.warning("POST /api/v3/%s created nothing in %d attempts; giving up", path, attempts)
                    raise
            delay = self.client.settings.backoff * (2 ** (attempt - 1))
            log.warning(
                "POST /api/v3/%s created nothing; sending it again in %.1f s (attempt %d of %d)",
                path,
                delay,
                attempt + 1,
                attempts,
            )
            time.sleep(delay)
            attempt += 1


class Resource:
    """Base class of the per-kind modules."""

    section: ClassVar[str]
    kind: ClassVar[str]
    key_field: ClassVar[str] = "name"
    field_types: ClassVar[dict[str, str]] = {}

    # -- planning ---------------------------------------------------------------

    def spec_objects(self, spec_file: SpecFile) -> list[Any]:
        return list(getattr(spec_file.spec, self.section))

    def key(self, obj: Any) -> str:
        return str(getattr(obj, self.key_field))

    def index(self, state: LiveState) -> Index:
        index: Index = getattr(state, self.section)
        return index

    def find_live(self, obj: Any, ctx: PlanContext, path: YamlPath) -> dict[str, Any] | None:
        """Find the live object for a spec object: by the id its stack recorded, else by name."""
        key = self.key(obj)
        inventory = ctx.state.inventory
        if inventory is not None and self.section in OWNED_SECTIONS:
            pk = inventory.owned[self.section].get(key)
            owned = self.index(ctx.state).by_pk.get(pk) if pk is not None else None
            if owned is not None:
                return owned  # found by id, so a rename behind the tool's back shows as drift

        matches = self.index(ctx.state).all_named(key)
        if len(matches) > 1:
            ctx.problem(
                path,
                f"{len(matches)} {self.section} in authentik are called {key!r}",
                "Rename or delete the duplicates in authentik, then run provision again.",
            )
        live = matches[0] if matches else None
        if live is not None and self.section in OWNED_SECTIONS:
            self.check_owner(obj, live, ctx, path)
        return live

    def check_owner(self, obj: Any, live: dict[str, Any], ctx: PlanContext, path: YamlPath) -> None:
        """Refuse to manage an object another stack owns, or one this stack has not adopted."""
        key = self.key(obj)
        owner = ctx.state.owner_of(self.section, live["pk"])
        stack = ctx.state.stack
        if owner is not None and owner != stack:
            ctx.problem(
                path,
                f"{self.kind} {key!r} is managed by the stack {owner!r}",
                f"Manage it from the spec of stack {owner!r}, or remove it there and run `apply --prune` first.",
            )
        elif owner is None and stack is not None and not self.membership_only(obj):
            if ctx.adopt:
                ctx.adoptions.append((self.section, key, live["pk"]))
            else:
                ctx.problem(
                    path,
                    f"{self.kind} {key!r} already exists in authentik but is not managed by the stack {stack!r}",
                    "Review it with `provision import SPEC`, which adopts it into the stack, or rename it in the spec.",
                )

    def membership_only(self, obj: Any) -> bool:
        """Tell whether the spec names the object only to add members to it, so it needs no owner."""
        return False

    def check_name_free(
        self, obj: Any, ctx: PlanContext, path: YamlPath, all_of_type: Index, what: str
    ) -> None:
        """A new object's name must not be taken by an object of another type that shares the namespace."""
        taken = all_of_type.get(self.key(obj))
        if taken is not None:
            other = taken.get("verbose_name") or taken.get("meta_model_name") or "another type"
            ctx.problem(
                (*path, "name"),
                f"the name {self.key(obj)!r} is already used by a {other} in authentik",
                f"authentik requires {what} names to be unique across all types; choose another name.",
            )

    def desired(self, obj: Any, index: int, ctx: PlanContext) -> dict[str, Any]:
        raise NotImplementedError

    def observed(self, live: dict[str, Any], desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        raise NotImplementedError

    def extra_create_fields(self, desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        """Fields a create needs beyond the spec's (defaults that the server requires)."""
        return {}

    def plan(self, obj: Any, index: int, ctx: PlanContext) -> ResourceChange:
        path: YamlPath = (self.section, index)
        live = self.find_live(obj, ctx, path)
        if live is not None:
            ctx.located[(self.section, self.key(obj))] = live
        desired = self.desired(obj, index, ctx)
        if live is None:
            desired = {**desired, **self.extra_create_fields(desired, ctx)}
            fields = tuple(self.create_fields(desired))
            return ResourceChange(self.section, self.key(obj), Action.CREATE, fields)
        observed = self.observed(live, desired, ctx)
        changes: list[FieldChange] = []
        for name, value in desired.items():
            changes.extend(self.diff_field(name, value, observed.get(name, ABSENT)))
        action = Action.UPDATE if changes else Action.NOOP
        return ResourceChange(self.section, self.key(obj), action, tuple(changes), live_id=self.live_id(live))

    def create_fields(self, desired: dict[str, Any]) -> list[FieldChange]:
        # The address already shows the key field (name, or slug for applications).
        return [
            self.field_change(name, ABSENT, value)
            for name, value in desired.items()
            if name != self.key_field
        ]

    def live_id(self, live: dict[str, Any]) -> str | int | None:
        pk = live.get("pk")
        return pk if isinstance(pk, str | int) else None

    def field_change(self, name: str, before: Any, after: Any) -> FieldChange:
        field_type = self.field_types.get(name, PLAIN)
        # Attribute keys are user data, so a password-like key is masked even
        # when its value is written in the spec; schema fields are masked only
        # when their value comes from `!env` or `!file`.
        sensitive = contains_secret(after) or (name.startswith("attributes.") and is_password_like(name))
        return FieldChange.of(name, before, after, sensitive=sensitive, set_like=field_type in (SET, SUBSET))

    def diff_field(self, name: str, desired: Any, live: Any) -> list[FieldChange]:
        field_type = self.field_types.get(name, PLAIN)
        if field_type == SET:
            equal = same_set(desired, live or [])
        elif field_type == SUBSET:
            present = live or []
            equal = all(item in present for item in desired)
            if not equal:
                after = list(present) + [item for item in desired if item not in present]
                return [self.field_change(name, list(present), after)]
        elif field_type == EXPRESSION:
            equal = same_expression(desired, live)
        elif field_type == DURATION:
            equal = same_duration(desired, live)
        else:
            equal = live is not ABSENT and same_json(desired, live)
        return [] if equal else [self.field_change(name, live, desired)]

    # -- applying ---------------------------------------------------------------

    def write(self, change: ResourceChange, obj: Any, ctx: ApplyContext) -> None:
        raise NotImplementedError

    def item_path(self, live_id: Any, ctx: ApplyContext) -> str:
        raise NotImplementedError

    def delete(self, change: ResourceChange, ctx: ApplyContext) -> None:
        """Delete an owned object that left the spec; one already gone counts as deleted."""
        try:
            ctx.client.delete(self.item_path(change.live_id, ctx))
            ctx.report("deleted", change, "")
        except NotFound:
            ctx.report("already gone", change, "")
        if ctx.inventory is not None:
            with ctx.lock:
                ctx.inventory.forget(self.section, change.key)


def named(items: list[dict[str, Any]], value: Any, field: str = "name") -> dict[str, Any] | None:
    """Return the first object whose `field` equals `value`, because list filters may match loosely."""
    return next((item for item in items if item.get(field) == value), None)


def changed(change: ResourceChange) -> set[str]:
    """Return the names of the fields a change touches; for an update, only those that differ."""
    return {field_change.field for field_change in change.fields}
