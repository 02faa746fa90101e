"""The live state of an authentik instance, read with one paginated list per kind.

Only the kinds a spec touches are read. Objects are kept as authentik returns
them and indexed by the key the spec uses (name, or slug for applications and
flows) and by primary key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provision.api.paging import read_lists
from provision.api.releases import Release
from provision.ownership import INVENTORY_PREFIX, Inventory
from provision.spec.models import Spec

if TYPE_CHECKING:
    from provision.api.client import AuthentikClient

log = logging.getLogger("provision.state")

# The managed scope mappings authentik adds to every proxy provider on save.
PROXY_DEFAULT_MAPPINGS = frozenset(
    {
        "goauthentik.io/providers/oauth2/scope-openid",
        "goauthentik.io/providers/oauth2/scope-email",
        "goauthentik.io/providers/oauth2/scope-profile",
        "goauthentik.io/providers/oauth2/scope-entitlements",
        "goauthentik.io/providers/proxy/scope-proxy",
    }
)
EMBEDDED_OUTPOST = "goauthentik.io/outposts/embedded"


@dataclass
class Index:
    """Objects of one kind by spec key and by primary key."""

    key_field: str
    by_key: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_pk: dict[Any, dict[str, Any]] = field(default_factory=dict)

    def add(self, item: dict[str, Any], pk_field: str = "pk") -> None:
        self.by_key.setdefault(str(item.get(self.key_field, "")), []).append(item)
        self.by_pk[item.get(pk_field)] = item

    def extend(self, items: Iterable[dict[str, Any]], pk_field: str = "pk") -> None:
        for item in items:
            self.add(item, pk_field)

    def get(self, key: str) -> dict[str, Any] | None:
        matches = self.by_key.get(key, [])
        return matches[0] if matches else None

    def all_named(self, key: str) -> list[dict[str, Any]]:
        return self.by_key.get(key, [])

    def name_of(self, pk: Any) -> str | None:
        item = self.by_pk.get(pk)
        return None if item is None else str(item.get(self.key_field))


@dataclass
class LiveState:
    """The objects authentik contains now, as far as the spec needs them."""

    release: Release
    url: str | None = None
    offline: bool = False
    groups: Index = field(default_factory=lambda: Index("name"))
    users: Index = field(default_factory=lambda: Index("username"))
    scope_mappings: Index = field(default_factory=lambda: Index("name"))
    proxy_providers: Index = field(default_factory=lambda: Index("name"))
    applications: Index = field(default_factory=lambda: Index("slug"))
    outposts: Index = field(default_factory=lambda: Index("name"))
    flows: Index = field(default_factory=lambda: Index("slug"))
    certificates: Index = field(default_factory=lambda: Index("name"))
    # The bindings of groups and users (not of policies), by the pk of their target.
    bindings: Index = field(default_factory=lambda: Index("target"))
    # Every property mapping and every provider, of any type: names are unique across types.
    all_mappings: Index = field(default_factory=lambda: Index("name"))
    all_providers: Index = field(default_factory=lambda: Index("name"))
    # Every stack's inventory on the instance, by stack name.
    inventories: dict[str, Inventory] = field(default_factory=dict)
    stack: str | None = None
    # The sections read from the server (others are empty because they were not read).
    fetched: set[str] = field(default_factory=set)

    @property
    def inventory(self) -> Inventory | None:
        """The spec's own inventory (empty if the stack has not been applied yet); None without a stack."""
        if self.stack is None:
            return None
        return self.inventories.setdefault(self.stack, Inventory(stack=self.stack))

    def owner_of(self, section: str, pk: Any) -> str | None:
        """Return the stack that owns the object, or None."""
        for stack, inventory in self.inventories.items():
            if inventory.owns(section, pk):
                return stack
        return None

    @classmethod
    def empty(cls, release: Release, stack: str | None = None) -> LiveState:
        """Create the state of an empty authentik, for offline plans."""
        return cls(release=release, offline=True, stack=stack)

    @classmethod
    def fetch(cls, client: AuthentikClient, spec: Spec, *, parallelism: int = 1) -> LiveState:
        """Read every kind the spec refers to, up to `parallelism` lists at a time."""
        release = client.release
        state = cls(release=release, url=client.settings.url, stack=spec.stack)
        touches = _kinds_touched(spec)

        for record in client.iter_list("managed/blueprints/", {"search": INVENTORY_PREFIX.strip()}):
            inventory = Inventory.from_instance(record)
            if inventory is not None:
                state.inventories[inventory.stack] = inventory
        if state.inventory is not None and any(state.inventory.owned.values()):
            # Objects left out of the spec may still be owned: read their kinds for prune.
            touches |= {section for section, owned in state.inventory.owned.items() if owned}
            if state.inventory.added_members:
                touches.add("groups")
        if state.inventory is not None and state.inventory.added_outpost_providers:
            touches |= {"outposts", "proxy_providers"}

        # The lists are independent of each other, so they are read concurrently;
        # their results are added in this fixed order, whatever order they arrive in.
        reads: list[tuple[Index, str, dict[str, Any]]] = []
        if "groups" in touches:
            params = {"include_users": "false"} if release.has_include_users_filter else {}
            reads.append((state.groups, "core/groups/", params))
        if "scope_mappings" in touches:
            reads.append((state.scope_mappings, release.scope_mapping_path, {}))
        if "proxy_providers" in touches:
            reads.append((state.proxy_providers, "providers/proxy/", {}))
        if "flows" in touches:
            reads.append((state.flows, "flows/instances/", {}))
        if "certificates" in touches:
            params = {"include_details": "false"} if release.has_certificate_include_details else {}
            reads.append((state.certificates, "crypto/certificatekeypairs/", params))
        if "outposts" in touches:
            reads.append((state.outposts, "outposts/instances/", {}))
        if "applications" in touches:
            reads.append((state.applications, "core/applications/", {"superuser_full_list": "true"}))
            # Access is granted by group bindings. Reading every binding without a policy (those
            # of groups and users) avoids waiting for the applications' primary keys.
            reads.append((state.bindings, "policies/bindings/", {"policy__isnull": "true"}))
        # Names are unique across provider (and mapping) types, so a create needs the all-types
        # lists. They join the first reads when the stack does not own every spec object yet.
        clashes = (
            (state.all_providers, "providers/all/", "proxy_providers", state.proxy_providers),
            (state.all_mappings, "propertymappings/all/", "scope_mappings", state.scope_mappings),
        )
        early = {
            path
            for _, path, section, _ in clashes
            if state.inventory is not None
            and any(obj.name not in state.inventory.owned[section] for obj in getattr(spec, section))
        }
        reads += [(index, path, {}) for index, path, _, _ in clashes if path in early]
        _read_lists(client, reads, parallelism)
        late: list[tuple[Index, str, dict[str, Any]]] = [
            (index, path, {})
            for index, path, section, live in clashes
            if path not in early and any(obj.name not in live.by_key for obj in getattr(spec, section))
        ]
        _read_lists(client, late, parallelism)
        state.fetched = touches
        usernames = _member_usernames(spec)
        if state.inventory is not None:
            usernames |= {name for names in state.inventory.added_members.values() for name in names}
        if usernames:
            state.users.extend(_fetch_users(client, usernames, release))
        return state

    def embedded_outpost(self) -> dict[str, Any] | None:
        for outpost in self.outposts.by_pk.values():
            if outpost.get("managed") == EMBEDDED_OUTPOST:
                return outpost
        return None

    def managed_proxy_mapping_pks(self) -> set[Any]:
        return {
            pk
            for pk, mapping in self.scope_mappings.by_pk.items()
            if mapping.get("managed") in PROXY_DEFAULT_MAPPINGS
        }


def _read_lists(
    client: AuthentikClient, reads: list[tuple[Index, str, dict[str, Any]]], parallelism: int
) -> None:
    lists = read_lists(client, [(path, params) for _, path, params in reads], parallelism)
    for (index, _, _), items in zip(reads, lists, strict=True):
        index.extend(items)


def _fetch_users(client: AuthentikClient, usernames: set[str], release: Release) -> list[dict[str, Any]]:
    """The users named in the spec, in as few requests as the instance's size allows.

    The first page of all users comes first. If the remaining pages are fewer than
    the usernames still missing, the list is read to the end; otherwise the missing
    ones are looked up one by one. So the reads never exceed one per page or one per name.
    """
    params: dict[str, Any] = {"page": 1, "page_size": release.max_page_size}
    if release.has_include_users_filter:
        params["include_groups"] = "false"
    first = client.get("core/users/", params)
    found = [user for user in first.get("results", []) if user.get("username") in usernames]
    missing = usernames - {user["username"] for user in found}
    pagination = first.get("pagination") or {}
    remaining_pages = max(int(pagination.get("total_pages", 1)) - 1, 0)
    if not missing or remaining_pages == 0:
        return found
    if remaining_pages < len(missing):
        rest = {key: value for key, value in params.items() if key not in ("page", "page_size")}
        found = [user for user in client.iter_list("core/users/", rest) if user.get("username") in usernames]
        return found
    for username in sorted(missing):
        found.extend(client.list("core/users/", {"username": username}))
    return found


def _kinds_touched(spec: Spec) -> set[str]:
    kinds: set[str] = set()
    if spec.groups or any(app.access for app in spec.applications):
        kinds.add("groups")
    if spec.scope_mappings or spec.proxy_providers:
        kinds.add("scope_mappings")
    if spec.proxy_providers or spec.applications or spec.outposts:
        kinds.add("proxy_providers")
    if spec.proxy_providers:
        kinds.add("flows")
    if any(provider.certificate for provider in spec.proxy_providers):
        kinds.add("certificates")
    if spec.applications:
        kinds.add("applications")
    if spec.outposts:
        kinds.add("outposts")
    return kinds


def _member_usernames(spec: Spec) -> set[str]:
    return {username for group in spec.groups for username in (group.members or [])}
