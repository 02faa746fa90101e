"""``core/applications/`` (looked up by slug) and ``policies/bindings/``."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ..errors import ApiError, invalid
from .base import Record, Reply, Request, Resource, paginate, same_pk

RESERVED_SLUGS = ("authorize", "token", "device", "userinfo", "introspect", "revoke")
_LAUNCH_URL = re.compile(r"^([a-z][a-z0-9+.-]*://|\{)", re.IGNORECASE)
SELECT_VALID = "Select a valid choice. That choice is not one of the available choices."


class Applications(Resource):
    """Lists without ``superuser_full_list=true`` go through the access check and a per-user
    cache whose key ignores filters (authentik caches the allowed list for 24 hours, per page
    from 2024.4). The fake's caller is akadmin; an application passes when it has no enabled
    binding or its bindings pass for akadmin (group membership, user, negate,
    policy_engine_mode). The cache is cleared when an application is created, as by the
    server's post_save signal."""

    kind = "application"
    model = "Application"
    component = "Application"
    collection = ("/core/applications/",)
    item = ("/core/applications/{slug}/",)
    lookup = "slug"
    search_fields = ("name", "slug", "meta_publisher", "meta_description", "group")
    exact_filters: ClassVar[dict[str, str]] = {
        "slug": "slug",
        "name": "name",
        "group": "group",
        "meta_launch_url": "meta_launch_url",
        "meta_description": "meta_description",
        "meta_publisher": "meta_publisher",
    }
    relations: ClassVar[dict[str, str]] = {
        "provider": "proxy_provider",
        "backchannel_providers": "proxy_provider",
    }

    def defaults(self) -> Record:
        # Up to 2025.10 meta_icon is the resolved URL (null without icon); from 2025.12 it
        # is the stored value and the URL moves to meta_icon_url.
        icon = "" if self.server.release.at_least("2025.12") else None
        return {
            "provider": None,
            "backchannel_providers": [],
            "open_in_new_tab": False,
            "meta_launch_url": "",
            "meta_icon": icon,
            "meta_description": "",
            "meta_publisher": "",
            "policy_engine_mode": "any",
            "group": "",
        }

    def list(self, request: Request) -> Reply:
        if request.flag("superuser_full_list", False) and self.server.caller["is_superuser"]:
            return super().list(request)
        records = self._order(self.filter(list(self.records), request), request.first("ordering"))
        records = self._search(records, request.first("search"))
        reply = paginate(self.server, request, records)
        page = reply.body["pagination"]["current"]
        key = (self.server.caller["pk"], page if self.server.release.at_least("2024.4") else None)
        cache = self.server.app_cache
        if request.first("search"):
            allowed = [a for a in reply.body["results"] if self.passes(a)]
        else:
            if key not in cache:
                cache[key] = [a["pk"] for a in reply.body["results"] if self.passes(a)]
            allowed = [a for a in self.records if a["pk"] in cache[key]]
        if request.flag("only_with_launch_url", False):
            allowed = [a for a in allowed if a.get("launch_url")]
        reply.body["results"] = [self.render(a, request) for a in allowed]
        return reply

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        return self.exact(records, request)

    def passes(self, app: Record) -> bool:
        """The policy engine's verdict for the caller, for group and user bindings."""
        bindings = [b for b in self.server.store("policy_binding") if same_pk(b["target"], app["pk"])]
        results = [self._binding_passes(b) for b in bindings if b["enabled"]]
        if not results:
            return True
        return any(results) if app["policy_engine_mode"] == "any" else all(results)

    def _binding_passes(self, binding: Record) -> bool:
        caller = self.server.caller
        if binding.get("group"):
            group = self.server.lookup("group", binding["group"])
            verdict = bool(group and caller["pk"] in group["users"])
        elif binding.get("user") is not None:
            verdict = binding["user"] == caller["pk"]
        else:
            verdict = True  # the fake stores no policies to evaluate
        return verdict != binding["negate"]

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        errors: dict[str, Any] = {}
        slug = data.get("slug")
        if slug in RESERVED_SLUGS and self.server.release.at_least("2025.8"):
            errors["slug"] = f"The slug '{slug}' is reserved and cannot be used for applications."
        elif slug is not None and any(a["slug"] == slug for a in self.records if a is not instance):
            errors["slug"] = "Application with this slug already exists."
        provider = data.get("provider")
        others = [a for a in self.records if a is not instance]
        if provider is not None and any(a["provider"] == provider for a in others):
            errors["provider"] = "Application with this provider already exists."
        launch = data.get("meta_launch_url")
        if launch and not _LAUNCH_URL.match(launch):
            errors["meta_launch_url"] = "Enter a valid URL."
        if errors:
            raise invalid(errors)
        return data

    def save(self, record: Record, data: Record, request: Request) -> None:
        if "slug" not in record:  # a new application: post_save clears the access cache
            self.server.app_cache.clear()
        record.update(data)

    def derive(self, record: Record) -> None:
        provider = self.server.lookup("proxy_provider", record["provider"])
        backchannel = [self.server.lookup("proxy_provider", pk) for pk in record["backchannel_providers"]]
        record["provider_obj"] = provider
        record["backchannel_providers_obj"] = [p for p in backchannel if p]
        # Application.get_launch_url: meta_launch_url, else the provider's (proxy: external_host).
        record["launch_url"] = record["meta_launch_url"] or (provider or {}).get("external_host")
        record["meta_icon_url"] = None
        record["meta_icon_themed_urls"] = None

    def on_delete(self, record: Record) -> None:
        bindings = self.server.store("policy_binding")
        bindings[:] = [b for b in bindings if not same_pk(b["target"], record["pk"])]


class PolicyBindings(Resource):
    kind = "policy_binding"
    model = "PolicyBinding"
    component = "PolicyBinding"
    collection = ("/policies/bindings/",)
    item = ("/policies/bindings/{policy_binding_uuid}/",)
    ordering = ("order", "pk")
    search_fields = ()
    exact_filters: ClassVar[dict[str, str]] = {
        "policy": "policy",
        "enabled": "enabled",
        "order": "order",
        "timeout": "timeout",
    }
    relations: ClassVar[dict[str, str]] = {
        "target": "pbm",
        "group": "group",
        "user": "user",
        "policy": "policy",
    }

    def defaults(self) -> Record:
        return {
            "policy": None,
            "group": None,
            "user": None,
            "negate": False,
            "enabled": True,
            "timeout": 30,
            "failure_result": False,
        }

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        records = self.exact(records, request)
        # target and target_in are model-choice filters: an unknown target is a 400.
        if (target := request.first("target")) is not None:
            self._known_target("target", target)
            records = [r for r in records if same_pk(r["target"], target)]
        if targets := request.query.get("target_in"):
            for target in targets:
                self._known_target("target_in", target)
            records = [r for r in records if any(same_pk(r["target"], t) for t in targets)]
        if (isnull := request.first("policy__isnull")) is not None:
            records = [r for r in records if (r["policy"] is None) == (isnull.lower() == "true")]
        return records

    def _known_target(self, param: str, value: str) -> None:
        if self.server.lookup("pbm", value) is None:
            raise invalid({param: SELECT_VALID})

    def partial_update(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        if "target" not in body:
            release = self.server.release
            if release.at_least("2025.12"):
                # The code crashes here (target is None), and authentik 2025.12.4 answers
                # a crash in a write with 405 and an empty body, because its error view
                # only allows GET (seen on a live 2025.12.4 server).
                raise ApiError(405, None)
            if release.at_least("2024.12"):
                # validate() calls target.supported_policy_binding_targets() on None.
                raise ApiError(500, {"detail": "Server Error (500)"})
        return super().partial_update(request)

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        """Exactly one of policy/group/user, counted over this request's fields only."""
        count = sum(bool(data.get(key)) for key in ("policy", "group", "user"))
        if self.server.release.at_least("2024.12"):
            # From 2024.12 the allowed fields come from the target (sorted).
            names = "'group', 'policy', 'user'"
            too_many, none = f"Only one of {names} can be set.", f"One of {names} must be set."
        else:
            too_many = "Only one of 'policy', 'group' or 'user' can be set."
            none = "One of 'policy', 'group' or 'user' must be set."
        if count > 1:
            raise invalid({"non_field_errors": too_many})
        if count < 1:
            raise invalid({"non_field_errors": none})
        return data

    def derive(self, record: Record) -> None:
        record["policy_obj"] = None
        record["group_obj"] = self.server.lookup("group", record["group"])
        record["user_obj"] = self.server.lookup("user", record["user"])
