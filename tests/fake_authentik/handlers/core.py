"""``core/groups/`` and ``core/users/``: membership lives in each group's ``users`` list."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from ..errors import ApiError, invalid, not_found
from .base import Record, Reply, Request, Resource, records_named, same_pk

SELECT_VALID = "Select a valid choice. {} is not one of the available choices."


class Groups(Resource):
    kind = "group"
    model = "Group"
    component = "Group"
    collection = ("/core/groups/",)
    item = ("/core/groups/{group_uuid}/",)
    exact_filters: ClassVar[dict[str, str]] = {"name": "name", "is_superuser": "is_superuser"}
    relations: ClassVar[dict[str, str]] = {
        "users": "user",
        "parent": "group",
        "parents": "group",
        "children": "group",
        "roles": "role",
    }
    # PUT empties these when left out (serializer default=list); `children` is only
    # writable in 2025.8-2025.10 and `parents` exists from 2025.12, which write_schema sorts out.
    put_defaults: ClassVar[dict[str, Any]] = {"users": list, "children": list, "parents": list}

    def routes(self) -> dict[tuple[str, str], Any]:
        table = super().routes()
        table[("/core/groups/{group_uuid}/add_user/", "POST")] = self.add_user
        table[("/core/groups/{group_uuid}/remove_user/", "POST")] = self.remove_user
        return table

    def defaults(self) -> Record:
        return {
            "num_pk": self.server.next_int("group_num"),
            "is_superuser": False,
            "parent": None,
            "parents": [],
            "users": [],
            "attributes": {},
            "roles": [],
        }

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        records = self.exact(records, request)
        if usernames := request.query.get("members_by_username"):
            pks = [self._user_by_name(name, "members_by_username")["pk"] for name in usernames]
            records = [r for r in records if set(pks) & set(r["users"])]
        if user_pks := request.query.get("members_by_pk"):
            wanted = {int(pk) for pk in user_pks if pk.isdigit()}
            records = [r for r in records if wanted & set(r["users"])]
        if (attributes := request.first("attributes")) is not None:
            records = _filter_attributes(records, attributes)
        return records

    def _user_by_name(self, username: str, param: str) -> Record:
        for user in self.server.store("user"):
            if user["username"] == username:
                return user
        raise invalid({param: SELECT_VALID.format(username)})

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        release = self.server.release
        name = data.get("name", instance["name"] if instance else None)
        parent = data.get("parent", instance.get("parent") if instance else None)
        others = [g for g in self.records if g is not instance]
        if release.before("2024.6"):
            # Up to 2024.4 only (name, parent) is unique, and NULL parents never clash in
            # the database, so duplicate top-level names are possible.
            if parent and any(g["name"] == name and g.get("parent") == parent for g in others):
                raise invalid({"non_field_errors": "The fields name, parent must make a unique set."})
        elif "name" in data and any(g["name"] == name for g in others):
            # 2024.6-2025.10 check it in the serializer; 2025.12 made the column unique.
            message = (
                "Group with this name already exists."
                if release.at_least("2025.12")
                else "This field must be unique."
            )
            raise invalid({"name": message})
        if instance and data.get("parent") and same_pk(data["parent"], instance["pk"]):
            raise invalid({"parent": "Cannot set group as parent of itself."})
        return data

    def save(self, record: Record, data: Record, request: Request) -> None:
        children = data.pop("children", None)
        record.update(data)
        if children is not None:  # writable only in 2025.8-2025.10, where groups have `parent`
            for group in self.records:
                if any(same_pk(group["pk"], child) for child in children):
                    group["parent"] = record["pk"]
                elif group.get("parent") and same_pk(group["parent"], record["pk"]):
                    group["parent"] = None

    def derive(self, record: Record) -> None:
        users = [u for u in self.server.store("user") if u["pk"] in record["users"]]
        parent = self.server.lookup("group", record.get("parent"))
        record["users_obj"] = users
        record["parent_name"] = parent["name"] if parent else None
        record["children"] = [g["pk"] for g in self._children(record)]
        record["roles_obj"] = []
        for lazy in ("children_obj", "parents_obj", "inherited_roles_obj"):
            record[lazy] = None  # null unless include_<x>=true

    def _children(self, record: Record) -> list[Record]:
        return [
            g
            for g in self.records
            if (g.get("parent") and same_pk(g["parent"], record["pk"]))
            or any(same_pk(p, record["pk"]) for p in g.get("parents", []))
        ]

    def render(self, record: Record, request: Request) -> Record:
        shown = dict(record)
        if not request.flag("include_users", True):  # 2024.4+
            shown["users_obj"] = None
        if request.flag("include_children", False):  # 2025.8+
            shown["children_obj"] = self._children(record)
        if request.flag("include_parents", False):  # 2025.12+
            shown["parents_obj"] = [self.server.lookup("group", p) for p in record["parents"]]
        if request.flag("include_inherited_roles", False):  # 2025.12+
            shown["inherited_roles_obj"] = []
        return self.server.shape(self.component, shown)

    def on_delete(self, record: Record) -> None:
        for group in self.records:
            if group.get("parent") and same_pk(group["parent"], record["pk"]):
                group["parent"] = None
            if "parents" in group:
                group["parents"] = [p for p in group["parents"] if not same_pk(p, record["pk"])]
        bindings = self.server.store("policy_binding")
        bindings[:] = [b for b in bindings if not same_pk(b.get("group"), record["pk"])]

    def add_user(self, request: Request) -> Reply:
        group, user = self._membership(request)
        if user["pk"] not in group["users"]:
            group["users"].append(user["pk"])
        self.server.refresh()
        return Reply(204)

    def remove_user(self, request: Request) -> Reply:
        group, user = self._membership(request)
        group["users"] = [pk for pk in group["users"] if pk != user["pk"]]
        self.server.refresh()
        return Reply(204)

    def _membership(self, request: Request) -> tuple[Record, Record]:
        group = self.get(request)
        body = request.body if isinstance(request.body, dict) else {}
        if "pk" not in body:
            raise invalid({"pk": "This field is required."})
        if isinstance(body["pk"], bool) or not isinstance(body["pk"], int):
            raise invalid({"pk": "A valid integer is required."})
        user = self.server.lookup("user", body["pk"])
        if user is None:
            raise not_found(self.server.release, "User")
        return group, user


def _filter_attributes(records: list[Record], text: str) -> list[Record]:
    """``?attributes={"k": "v"}`` matches groups whose attributes hold k == v."""
    try:
        wanted = json.loads(text)
    except ValueError:
        raise ApiError(400, ["filter: failed to parse JSON"]) from None
    if not isinstance(wanted, dict):
        raise ApiError(400, ["filter: value must be key:value mapping"])
    return [r for r in records if all(r["attributes"].get(k) == v for k, v in wanted.items())]


class Users(Resource):
    kind = "user"
    model = "User"
    component = "User"
    collection = ("/core/users/",)
    item = ("/core/users/{id}/",)
    ordering = ("username",)
    search_fields = ("username", "name", "email")
    exact_filters: ClassVar[dict[str, str]] = {
        "username": "username",
        "email": "email",
        "uuid": "uuid",
        "name": "name",
        "is_active": "is_active",
        "path": "path",
        "type": "type",
    }
    relations: ClassVar[dict[str, str]] = {"groups": "group", "roles": "role"}
    put_defaults: ClassVar[dict[str, Any]] = {"groups": list}

    def defaults(self) -> Record:
        return {
            "name": "",
            "is_active": True,
            "last_login": None,
            "groups": [],
            "roles": [],
            "email": "",
            "attributes": {},
            "path": "users",
            "type": "internal",
        }

    def new_record(self, data: Record) -> Record:
        pk = self.server.next_int("user")
        stamp = "2025-01-01T00:00:00Z"
        return {
            "pk": pk,
            **data,
            "date_joined": stamp,
            "uid": hashlib.sha256(f"{pk}-fake".encode()).hexdigest(),
            "uuid": self.server.new_uuid(),
            "avatar": "data:image/svg+xml;base64,",
            "password_change_date": stamp,
            "last_updated": stamp,
        }

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        records = self.exact(records, request)
        if names := request.query.get("groups_by_name"):
            groups = self.server.store("group")
            for name in names:
                if not any(g["name"] == name for g in groups):
                    raise invalid({"groups_by_name": SELECT_VALID.format(name)})
            members = {pk for g in records_named(groups, "name", names) for pk in g["users"]}
            records = [r for r in records if r["pk"] in members]
        return records

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        name = data.get("username")
        if name and any(u["username"] == name for u in self.records if u is not instance):
            raise invalid({"username": "A user with that username already exists."})
        return data

    def save(self, record: Record, data: Record, request: Request) -> None:
        groups = data.pop("groups", None)
        record.update(data)
        if groups is None:
            return
        for group in self.server.store("group"):
            member = any(same_pk(group["pk"], g) for g in groups)
            if member and record["pk"] not in group["users"]:
                group["users"].append(record["pk"])
            elif not member and record["pk"] in group["users"]:
                group["users"].remove(record["pk"])

    def derive(self, record: Record) -> None:
        groups = [g for g in self.server.store("group") if record["pk"] in g["users"]]
        record["groups"] = [g["pk"] for g in groups]
        record["groups_obj"] = groups
        record["is_superuser"] = any(g["is_superuser"] for g in groups)
        record["roles_obj"] = []

    def render(self, record: Record, request: Request) -> Record:
        shown = dict(record)
        if not request.flag("include_groups", True):  # 2024.4+
            shown["groups_obj"] = None
        if not request.flag("include_roles", True):  # 2025.12+
            shown["roles_obj"] = None
        return self.server.shape(self.component, shown)

    def on_delete(self, record: Record) -> None:
        for group in self.server.store("group"):
            if record["pk"] in group["users"]:
                group["users"].remove(record["pk"])
        bindings = self.server.store("policy_binding")
        bindings[:] = [b for b in bindings if b.get("user") != record["pk"]]
