"""Applications, and `access`: the groups allowed to open them, as group policy bindings."""

from __future__ import annotations

from typing import Any, ClassVar

from provision.api.errors import NotFound
from provision.plan.model import Action, ResourceChange
from provision.resources.base import SET, ApplyContext, PlanContext, Resource, changed
from provision.secrets import reveal
from provision.spec.models import ApplicationSpec

# Spec field -> API field, for the fields sent and compared as they are.
API_FIELDS = {
    "name": "name",
    "launch_url": "meta_launch_url",
    "description": "meta_description",
    "publisher": "meta_publisher",
    "ui_group": "group",
    "policy_engine_mode": "policy_engine_mode",
    "open_in_new_tab": "open_in_new_tab",
}


class Applications(Resource):
    section = "applications"
    kind = "application"
    key_field = "slug"
    field_types: ClassVar[dict[str, str]] = {"access": SET}

    def desired(self, obj: ApplicationSpec, index: int, ctx: PlanContext) -> dict[str, Any]:
        fields = obj.model_fields_set
        desired: dict[str, Any] = {"slug": obj.slug, "name": obj.name}
        for name in API_FIELDS:
            if name in fields and name != "name" and getattr(obj, name) is not None:
                desired[name] = getattr(obj, name)

        limit = ctx.release.max_slug_length
        if limit is not None and len(obj.slug) > limit:
            ctx.problem(
                (self.section, index, "slug"),
                f"slug is {len(obj.slug)} characters long, but authentik {ctx.release} allows at most {limit}",
                "Shorten the slug, or upgrade authentik to 2025.12 or newer.",
            )
        if "provider" in fields:
            desired["provider"] = None
            if obj.provider is not None:
                desired["provider"] = ctx.reference(
                    "proxy_providers",
                    obj.provider,
                    (self.section, index, "provider"),
                    "proxy provider",
                )
                self._check_provider_free(obj, index, ctx)
                first = ctx.claimed_providers.setdefault(obj.provider, obj.slug)
                if first != obj.slug:
                    ctx.problem(
                        (self.section, index, "provider"),
                        f"proxy provider {obj.provider!r} is also the provider of application {first!r} in this spec",
                        "authentik allows one application per provider; give each application its own provider.",
                    )

        if obj.access is None:
            ctx.warnings.append(
                f'applications["{obj.slug}"] has no access list, so every user can open it '
                "unless bindings made outside the spec restrict it; add `access:` with the allowed groups"
            )
        else:
            if not obj.access:
                ctx.warnings.append(
                    f'applications["{obj.slug}"] has an empty access list, so every user can open it'
                )
            desired["access"] = [
                ctx.reference("groups", name, (self.section, index, "access", position), "group")
                for position, name in enumerate(obj.access)
            ]
        return desired

    def _check_provider_free(self, obj: ApplicationSpec, index: int, ctx: PlanContext) -> None:
        """authentik allows one application per provider; catch a clash before any write."""
        provider = ctx.state.proxy_providers.get(obj.provider or "")
        owner = (provider or {}).get("assigned_application_slug")
        this = ctx.located.get((self.section, obj.slug))
        if owner and owner != obj.slug and (this is None or owner != this.get("slug")):
            ctx.problem(
                (self.section, index, "provider"),
                f"proxy provider {obj.provider!r} is already used by application {owner!r}",
                "authentik allows one application per provider; create another provider for this application.",
            )

    def observed(self, live: dict[str, Any], desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        observed = {name: live.get(api_name) for name, api_name in API_FIELDS.items()}
        observed["slug"] = live.get("slug")
        provider = live.get("provider")
        observed["provider"] = (
            None if provider is None else ctx.state.proxy_providers.name_of(provider) or f"#{provider}"
        )
        observed["access"] = sorted(
            ctx.state.groups.name_of(binding["group"]) or f"#{binding['group']}"
            for binding in self._group_bindings(ctx.state.bindings.all_named(str(live["pk"])))
            if binding.get("enabled", True) and not binding.get("negate", False)
        )
        return observed

    @staticmethod
    def _group_bindings(bindings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [binding for binding in bindings if binding.get("group")]

    def live_id(self, live: dict[str, Any]) -> str | int | None:
        return str(live["slug"])

    # -- applying ---------------------------------------------------------------

    def write(self, change: ResourceChange, obj: ApplicationSpec, ctx: ApplyContext) -> None:
        touched = changed(change)
        body: dict[str, Any] = {}
        for name, api_name in API_FIELDS.items():
            if name in touched:
                body[api_name] = reveal(getattr(obj, name))
        if "provider" in touched:
            body["provider"] = None if obj.provider is None else ctx.pk("proxy_providers", obj.provider)
        if change.action is Action.CREATE or "slug" in touched:
            body["slug"] = obj.slug

        if change.action is Action.CREATE:
            created = ctx.create(
                "core/applications/", body, lambda: _get_or_none(ctx, f"core/applications/{obj.slug}/")
            )
            ctx.remember_created(self.section, obj.slug, created)
            ctx.report("created", change, "")
        elif body:
            # The item path holds the live slug, which differs from the spec's after a rename.
            updated = ctx.client.patch(self.item_path(change.live_id, ctx), body)
            with ctx.lock:
                ctx.located[(self.section, obj.slug)] = updated
            ctx.report("updated", change, ", ".join(sorted(body)))

        access = change.field("access")
        if access is not None:
            self._write_access(change, access.added, access.removed, obj, ctx)

    def item_path(self, live_id: Any, ctx: ApplyContext) -> str:
        return f"core/applications/{live_id}/"

    def _write_access(
        self,
        change: ResourceChange,
        added: list[str],
        removed: list[str],
        obj: ApplicationSpec,
        ctx: ApplyContext,
    ) -> None:
        target = ctx.pk(self.section, obj.slug)
        existing = self._group_bindings(ctx.state.bindings.all_named(str(target)))
        for name in added:
            group_pk = ctx.pk("groups", name)
            binding = next((item for item in existing if item["group"] == group_pk), None)
            if binding is None:
                ctx.client.post(
                    "policies/bindings/",
                    {
                        "target": target,
                        "group": group_pk,
                        "order": 0,
                        "enabled": True,
                        "negate": False,
                    },
                )
                ctx.report("granted access", change, name)
            else:
                # A partial update of a binding must carry `target` and its subject,
                # or authentik rejects it (400 up to 2024.10, 500 or 405 later).
                ctx.client.patch(
                    f"policies/bindings/{binding['pk']}/",
                    {"target": target, "group": group_pk, "enabled": True, "negate": False},
                )
                ctx.report("re-enabled access", change, name)
        for name in removed:
            group_pk = ctx.state.groups.get(name)
            for binding in existing:
                if group_pk is not None and binding["group"] == group_pk["pk"]:
                    ctx.client.delete(f"policies/bindings/{binding['pk']}/")
                    ctx.report("revoked access", change, name)


def _get_or_none(ctx: ApplyContext, path: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = ctx.client.get(path)
    except NotFound:
        return None
    return found
