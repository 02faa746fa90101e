"""Groups: attributes, superuser flag, parents, and members added by username."""

from __future__ import annotations

from typing import Any, ClassVar

from provision.plan.compare import same_json
from provision.plan.model import ABSENT, Action, Deferred, FieldChange, ResourceChange
from provision.resources.base import SET, ApplyContext, PlanContext, Resource, changed, named
from provision.secrets import reveal
from provision.spec.load import SpecFile
from provision.spec.models import GroupSpec


class Groups(Resource):
    section = "groups"
    kind = "group"
    field_types: ClassVar[dict[str, str]] = {"parents": SET, "members": SET}

    def spec_objects(self, spec_file: SpecFile) -> list[Any]:
        """Groups in an order where every parent in the spec comes before its children."""
        groups = list(spec_file.spec.groups)
        names = {group.name for group in groups}
        ordered: list[GroupSpec] = []
        placed: set[str] = set()
        while len(ordered) < len(groups):
            progressed = False
            for group in groups:
                if group.name in placed:
                    continue
                if all(parent in placed or parent not in names for parent in group.parents or []):
                    ordered.append(group)
                    placed.add(group.name)
                    progressed = True
            if not progressed:  # a cycle; the loader reports it, so keep the rest in file order
                ordered.extend(group for group in groups if group.name not in placed)
                break
        return ordered

    def desired(self, obj: GroupSpec, index: int, ctx: PlanContext) -> dict[str, Any]:
        fields = obj.model_fields_set
        desired: dict[str, Any] = {"name": obj.name}
        if "attributes" in fields:
            desired["attributes"] = obj.attributes or {}
        if "is_superuser" in fields and obj.is_superuser is not None:
            desired["is_superuser"] = obj.is_superuser
        if "parents" in fields:
            parents = obj.parents or []
            if len(parents) > 1 and not ctx.release.at_least(2025, 12):
                ctx.problem(
                    ("groups", index, "parents"),
                    f"authentik {ctx.release} allows one parent per group, but {len(parents)} are listed",
                    "Keep one parent, or upgrade authentik to 2025.12 or newer.",
                )
            desired["parents"] = [
                ctx.reference("groups", name, ("groups", index, "parents", position), "parent group")
                for position, name in enumerate(parents)
            ]
        if obj.members is not None or self._added_members(obj.name, ctx):
            desired["members"] = [
                ctx.reference("users", username, ("groups", index, "members", position), "user")
                for position, username in enumerate(obj.members or [])
            ]
        return desired

    @staticmethod
    def _added_members(group: str, ctx: PlanContext) -> list[str]:
        """Members this stack added earlier: the only ones it may remove."""
        inventory = ctx.state.inventory
        return list(inventory.added_members.get(group, [])) if inventory is not None else []

    def membership_only(self, obj: Any) -> bool:
        return bool(obj.model_fields_set <= {"name", "members"})

    def observed(self, live: dict[str, Any], desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        groups = ctx.state.groups
        if ctx.release.group_parents_field == "parents":
            parent_pks = list(live.get("parents") or [])
        else:
            parent_pks = [live["parent"]] if live.get("parent") else []
        member_pks = set(live.get("users") or [])
        # Only members the spec names, or that this stack added, are compared:
        # everyone else in the group is left alone.
        candidates = list(desired.get("members", []))
        candidates += [
            name for name in self._added_members(str(desired["name"]), ctx) if name not in candidates
        ]
        members = [
            username
            for username in candidates
            if not isinstance(username, Deferred)
            and (user := ctx.state.users.get(username)) is not None
            and user["pk"] in member_pks
        ]
        return {
            "name": live.get("name"),
            "attributes": live.get("attributes") or {},
            "is_superuser": live.get("is_superuser", False),
            "parents": [groups.name_of(pk) or f"#{pk}" for pk in parent_pks],
            "members": members,
        }

    def diff_field(self, name: str, desired: Any, live: Any) -> list[FieldChange]:
        if name != "attributes":
            return super().diff_field(name, desired, live)
        # One change per attribute key, so the plan shows which key moved and
        # a secret key stays masked while its neighbours stay readable.
        live = live or {}
        changes = []
        for key in sorted(set(desired) | set(live)):
            before = live.get(key, ABSENT)
            after = desired.get(key, ABSENT)
            if before is ABSENT or after is ABSENT or not same_json(after, before):
                changes.append(self.field_change(f"attributes.{key}", before, after))
        return changes

    def create_fields(self, desired: dict[str, Any]) -> list[FieldChange]:
        # Show a new group's attributes key by key, like an update.
        changes = []
        for name, value in desired.items():
            if name == "attributes":
                changes.extend(self.diff_field(name, value, {}))
            else:
                changes.append(self.field_change(name, ABSENT, value))
        return changes

    # -- applying ---------------------------------------------------------------

    def write(self, change: ResourceChange, obj: GroupSpec | None, ctx: ApplyContext) -> None:
        if obj is None:  # a group the spec no longer names: only undo the members this stack added
            self.write_members(change, ctx)
            return
        touched = {name.split(".")[0] for name in changed(change)}
        body: dict[str, Any] = {}
        if change.action is Action.CREATE or "name" in touched:
            body["name"] = obj.name
        if "attributes" in touched:
            body["attributes"] = reveal(obj.attributes or {})
        if "is_superuser" in touched:
            body["is_superuser"] = obj.is_superuser
        if "parents" in touched:
            parent_pks = [ctx.pk("groups", name) for name in obj.parents or []]
            if ctx.release.group_parents_field == "parents":
                body["parents"] = parent_pks
            else:
                body["parent"] = parent_pks[0] if parent_pks else None

        if change.action is Action.CREATE:
            created = ctx.create(
                "core/groups/",
                body,
                lambda: named(ctx.client.list("core/groups/", {"name": obj.name}), obj.name),
            )
            ctx.remember_created(self.section, obj.name, created)
            ctx.report("created", change, "")
        elif body:
            ctx.client.patch(f"core/groups/{change.live_id}/", body)
            ctx.report("updated", change, ", ".join(sorted(body)))

        self.write_members(change, ctx)

    def write_members(self, change: ResourceChange, ctx: ApplyContext) -> None:
        members = change.field("members")
        if members is None:
            return
        group_pk = ctx.pk("groups", change.key)
        for username in members.added:
            ctx.client.post(f"core/groups/{group_pk}/add_user/", {"pk": ctx.pk("users", username)})
            ctx.report("added member", change, username)
        for username in members.removed:
            ctx.client.post(f"core/groups/{group_pk}/remove_user/", {"pk": ctx.pk("users", username)})
            ctx.report("removed member", change, username)
        if ctx.inventory is not None:
            with ctx.lock:
                ctx.inventory.note_members(change.key, members.added, members.removed)

    def item_path(self, live_id: Any, ctx: ApplyContext) -> str:
        return f"core/groups/{live_id}/"
