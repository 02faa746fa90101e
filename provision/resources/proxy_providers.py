"""Proxy providers, in reverse-proxy or forward-auth mode."""

from __future__ import annotations

from typing import Any, ClassVar

from provision.plan.model import Action, Deferred, ResourceChange
from provision.resources.base import DURATION, SET, ApplyContext, PlanContext, Resource, changed, named
from provision.secrets import reveal
from provision.spec.models import ProxyProviderSpec

DEFAULT_INVALIDATION_FLOW = "default-provider-invalidation-flow"

# Spec fields sent to the API under the same name and compared as plain values.
PLAIN_FIELDS = (
    "mode",
    "external_host",
    "internal_host",
    "internal_host_ssl_validation",
    "cookie_domain",
    "skip_path_regex",
    "basic_auth_enabled",
    "basic_auth_user_attribute",
    "basic_auth_password_attribute",
    "intercept_header_auth",
    "access_token_validity",
    "refresh_token_validity",
)
FLOW_FIELDS = ("authorization_flow", "invalidation_flow")


class ProxyProviders(Resource):
    section = "proxy_providers"
    kind = "proxy provider"
    field_types: ClassVar[dict[str, str]] = {
        "property_mappings": SET,
        "access_token_validity": DURATION,
        "refresh_token_validity": DURATION,
    }

    def desired(self, obj: ProxyProviderSpec, index: int, ctx: PlanContext) -> dict[str, Any]:
        fields = obj.model_fields_set
        desired: dict[str, Any] = {"name": obj.name}
        for name in PLAIN_FIELDS:
            if name in fields and getattr(obj, name) is not None:
                desired[name] = getattr(obj, name)

        desired["authorization_flow"] = ctx.reference(
            "flows", obj.authorization_flow, (self.section, index, "authorization_flow"), "flow"
        )
        if obj.invalidation_flow is not None:
            if ctx.release.has_invalidation_flow:
                desired["invalidation_flow"] = ctx.reference(
                    "flows",
                    obj.invalidation_flow,
                    (self.section, index, "invalidation_flow"),
                    "flow",
                )
            else:
                ctx.warnings.append(
                    f'proxy_providers["{obj.name}"]: invalidation_flow is ignored, because authentik '
                    f"{ctx.release} has no invalidation flows (they arrived in 2024.10)"
                )
        if obj.property_mappings is not None:
            desired["property_mappings"] = [
                ctx.reference(
                    "scope_mappings",
                    name,
                    (self.section, index, "property_mappings", position),
                    "scope mapping",
                )
                for position, name in enumerate(obj.property_mappings)
            ]
        if "certificate" in fields:
            desired["certificate"] = (
                None
                if obj.certificate is None
                else ctx.reference(
                    "certificates",
                    obj.certificate,
                    (self.section, index, "certificate"),
                    "certificate",
                )
            )
        return desired

    def find_live(self, obj: Any, ctx: PlanContext, path: tuple[Any, ...]) -> dict[str, Any] | None:
        live = super().find_live(obj, ctx, path)
        if live is None:
            self.check_name_free(obj, ctx, path, ctx.state.all_providers, "provider")
        return live

    def extra_create_fields(self, desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        # authentik 2024.10 and later reject a provider without an invalidation flow.
        if ctx.release.has_invalidation_flow and "invalidation_flow" not in desired:
            return {
                "invalidation_flow": ctx.reference(
                    "flows", DEFAULT_INVALIDATION_FLOW, (self.section,), "flow"
                )
            }
        return {}

    def observed(self, live: dict[str, Any], desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        state = ctx.state
        observed = {name: live.get(name) for name in ("name", *PLAIN_FIELDS)}
        for name in FLOW_FIELDS:
            pk = live.get(name)
            observed[name] = None if pk is None else state.flows.name_of(pk) or f"#{pk}"
        certificate = live.get("certificate")
        observed["certificate"] = (
            None if certificate is None else state.certificates.name_of(certificate) or f"#{certificate}"
        )

        # authentik adds its managed scope mappings to every proxy provider on
        # save; they are only compared when the spec lists them itself.
        wanted = set(desired.get("property_mappings", []))
        managed = state.managed_proxy_mapping_pks()
        mappings = []
        for pk in live.get("property_mappings") or []:
            name = state.scope_mappings.name_of(pk) or f"#{pk}"
            if pk in managed and name not in wanted:
                continue
            mappings.append(name)
        observed["property_mappings"] = mappings
        return observed

    def write(self, change: ResourceChange, obj: ProxyProviderSpec, ctx: ApplyContext) -> None:
        touched = changed(change)
        body: dict[str, Any] = {}
        if change.action is Action.CREATE or "name" in touched:
            body["name"] = obj.name
        for name in PLAIN_FIELDS:
            if name in touched:
                body[name] = reveal(getattr(obj, name))
        for name in FLOW_FIELDS:
            if name in touched:
                slug = change.field(name).after  # type: ignore[union-attr]
                body[name] = ctx.pk("flows", slug.name if isinstance(slug, Deferred) else slug)
        if "property_mappings" in touched:
            body["property_mappings"] = [
                ctx.pk("scope_mappings", name) for name in obj.property_mappings or []
            ]
        if "certificate" in touched:
            body["certificate"] = None if obj.certificate is None else ctx.pk("certificates", obj.certificate)

        if change.action is Action.CREATE:
            created = ctx.create(
                "providers/proxy/",
                body,
                lambda: named(ctx.client.list("providers/proxy/", {"name__iexact": obj.name}), obj.name),
            )
            ctx.remember_created(self.section, obj.name, created)
            ctx.report("created", change, "")
            return

        fields = ", ".join(sorted(body))
        live = ctx.live(self.section, obj.name)
        # authentik validates a partial update as if `mode` were `proxy` and
        # `internal_host` empty whenever they are absent from the body, so a
        # PATCH without them fails (seen on 2024.6.3 and 2025.12.4).
        body.setdefault("mode", reveal(obj.mode) if obj.mode is not None else live.get("mode", "proxy"))
        if body["mode"] == "proxy":
            body.setdefault(
                "internal_host",
                reveal(obj.internal_host) if obj.internal_host else live.get("internal_host", ""),
            )
        # Enabling basic auth is only accepted with both attribute names in the same body.
        if body.get("basic_auth_enabled"):
            body.setdefault(
                "basic_auth_user_attribute",
                obj.basic_auth_user_attribute or live.get("basic_auth_user_attribute"),
            )
            body.setdefault(
                "basic_auth_password_attribute",
                obj.basic_auth_password_attribute or live.get("basic_auth_password_attribute"),
            )
        ctx.client.patch(self.item_path(change.live_id, ctx), body)
        ctx.report("updated", change, fields)

    def item_path(self, live_id: Any, ctx: ApplyContext) -> str:
        return f"providers/proxy/{live_id}/"
