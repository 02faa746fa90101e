"""Outposts, for membership only: the spec's providers are added, the others stay attached."""

from __future__ import annotations

from typing import Any, ClassVar

from provision.plan.model import ResourceChange
from provision.resources.base import SUBSET, ApplyContext, PlanContext, Resource
from provision.spec.models import OutpostSpec


class Outposts(Resource):
    section = "outposts"
    kind = "outpost"
    field_types: ClassVar[dict[str, str]] = {"providers": SUBSET}

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

    def observed(self, live: dict[str, Any], desired: dict[str, Any], ctx: PlanContext) -> dict[str, Any]:
        names = ctx.state.proxy_providers
        return {"providers": [names.name_of(pk) or f"#{pk}" for pk in live.get("providers") or []]}

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
        ctx.client.patch(f"outposts/instances/{change.live_id}/", {"providers": pks})
        ctx.report("attached", change, ", ".join(providers.added))
