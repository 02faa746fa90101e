"""Scope mappings: Python expressions that authentik runs to add claims under a scope name."""

from __future__ import annotations

from typing import Any, ClassVar

from provision.plan.model import Action, ResourceChange
from provision.resources.base import EXPRESSION, ApplyContext, PlanContext, Resource, changed, named
from provision.secrets import reveal
from provision.spec.models import ScopeMappingSpec


class ScopeMappings(Resource):
    section = "scope_mappings"
    kind = "scope mapping"
    field_types: ClassVar[dict[str, str]] = {"expression": EXPRESSION}

    def desired(self, obj: ScopeMappingSpec, index: int, ctx: PlanContext) -> dict[str, Any]:
        desired: dict[str, Any] = {
            "name": obj.name,
            "scope_name": obj.scope_name,
            "expression": ctx.spec_file.expressions[obj.name],
        }
        if "description" in obj.model_fields_set:
            desired["description"] = obj.description or ""
        return desired

    def find_live(self, obj: Any, ctx: PlanContext, path: tuple[Any, ...]) -> dict[str, Any] | None:
        live = super().find_live(obj, ctx, path)
        if live is None:
            self.check_name_free(obj, ctx, path, ctx.state.all_mappings, "property mapping")
        if live is not None and live.get("managed"):
            ctx.problem(
                path,
                f"scope mapping {obj.name!r} is managed by authentik ({live['managed']}) and cannot be changed",
                "Give your mapping another name; refer to the managed one by name in property_mappings.",
            )
        return live

    def observed(self, live: dict[str, Any], desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        return {
            "name": live.get("name"),
            "scope_name": live.get("scope_name"),
            "expression": live.get("expression", ""),
            "description": live.get("description", ""),
        }

    def write(self, change: ResourceChange, obj: ScopeMappingSpec, ctx: ApplyContext) -> None:
        path = ctx.release.scope_mapping_path
        expression = reveal(ctx.spec_file.expressions[obj.name])
        values = {
            "name": obj.name,
            "scope_name": obj.scope_name,
            "expression": expression,
            "description": obj.description or "",
        }
        if change.action is Action.CREATE:
            body = {
                key: value
                for key, value in values.items()
                if key != "description" or obj.description is not None
            }
            created = ctx.create(
                path, body, lambda: named(ctx.client.list(path, {"name": obj.name}), obj.name)
            )
            ctx.remember_created(self.section, obj.name, created)
            ctx.report("created", change, "")
            return
        body = {key: values[key] for key in sorted(changed(change))}
        ctx.client.patch(self.item_path(change.live_id, ctx), body)
        ctx.report("updated", change, ", ".join(sorted(body)))

    def item_path(self, live_id: Any, ctx: ApplyContext) -> str:
        return f"{ctx.release.scope_mapping_path}{live_id}/"
