"""Outposts, for membership only: the spec's providers are added, the others stay attached."""

from __future__ import annotations

from typing import Any, ClassVar

from provision.plan.model import ResourceChange
from provision.resources.base import SET, ApplyContext, PlanContext, Resource
from provision.spec.models import OutpostSpec


class Outposts(Resource):
    section = "outposts"
    kind = "outpost"
    field_types: ClassVar[dict[str, str]] = {"providers": SET}

    def desired(self, obj: OutpostSpec, index: int, ctx: PlanContext) -> dict[str, Any]:
        if not ctx.state.offline and ctx.state.outposts.get(obj.name) is None:
            ctx.problem(
                (self.section, index, "name"),
                f"outpost {obj.name!r} not found in authentik",
                "provision manages outpost membership only; create the outpost in authentik first "
                "(the built-in one is called `authentik Embedded Outpost`).",
            )
        return {
            "providers": [
                ctx.reference(
                    "proxy_providers",
                    name,
                    (self.section, index, "providers", position),
                    "proxy provider",
                )
                for position, name in enumerate(obj.providers)
            ]
        }

    def find_live(self, obj: Any, ctx: PlanContext, path: tuple[Any, ...]) -> dict[str, Any] | None:
        live = super().find_live(obj, ctx, path)
        if live is None and ctx.state.offline:
            # Offline, an outpost is assumed to exist with no providers.
            ctx.deferred.add(f"outpost {obj.name!r}")
            return {"pk": None, "name": obj.name, "providers": []}
        return live

    @staticmethod
    def _added_providers(outpost: str, ctx: PlanContext) -> list[str]:
        """Providers this stack attached earlier: the only ones it may detach."""
        inventory = ctx.state.inventory
        return list(inventory.added_outpost_providers.get(outpost, [])) if inventory is not None else []

    def observed(self, live: dict[str, Any], desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        # Only the spec's providers and those this stack attached are compared;
        # other providers on the outpost are left alone.
        names = ctx.state.proxy_providers
        relevant = set(desired.get("providers", [])) | set(self._added_providers(str(live.get("name")), ctx))
        attached = [names.name_of(pk) or f"#{pk}" for pk in live.get("providers") or []]
        return {"providers": [name for name in attached if name in relevant]}

    def write(self, change: ResourceChange, obj: OutpostSpec, ctx: ApplyContext) -> None:
        providers = change.field("providers")
        if providers is None:
            return
        # Re-read the outpost just before writing: the providers list is
        # replaced as a whole, so working from the plan's copy would drop a
        # provider attached since then.
        current = ctx.client.get(f"outposts/instances/{change.live_id}/")
        pks = list(current.get("providers") or [])
        for name in providers.added:
            pk = ctx.pk("proxy_providers", name)
            if pk not in pks:
                pks.append(pk)
        removed_pks = {ctx.pk("proxy_providers", name) for name in providers.removed}
        pks = [pk for pk in pks if pk not in removed_pks]
        ctx.client.patch(f"outposts/instances/{change.live_id}/", {"providers": pks})
        if providers.added:
            ctx.report("attached", change, ", ".join(providers.added))
        if providers.removed:
            ctx.report("detached", change, ", ".join(providers.removed))
        if ctx.inventory is not None:
            ctx.inventory.note_outpost_providers(change.key, providers.added, providers.removed)
