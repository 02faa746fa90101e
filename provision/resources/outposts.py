"""Outposts, for membership only: the spec's providers are added, the others stay attached."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from provision.errors import ProvisionError
from provision.plan.model import ResourceChange
from provision.resources.base import SET, ApplyContext, PlanContext, Resource
from provision.spec.models import OutpostSpec

OUTPOST_WRITE_ATTEMPTS = 3
log = logging.getLogger("provision.apply")


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
        added = [ctx.pk("proxy_providers", name) for name in providers.added]
        removed = {ctx.pk("proxy_providers", name) for name in providers.removed}
        path = f"outposts/instances/{change.live_id}/"
        # The providers list is replaced as a whole, so a concurrent apply could
        # overwrite this write (or this one the other's): read just before writing,
        # check after writing, and repeat while another write got in between.
        for attempt in range(1, OUTPOST_WRITE_ATTEMPTS + 1):
            current = list(ctx.client.get(path).get("providers") or [])
            wanted = [pk for pk in current if pk not in removed] + [pk for pk in added if pk not in current]
            ctx.client.patch(path, {"providers": wanted})
            after = set(ctx.client.get(path).get("providers") or [])
            if set(added) <= after and not (removed & after):
                break
            log.warning(
                "outpost %s changed while it was written; writing it again (attempt %d of %d)",
                change.key,
                attempt + 1,
                OUTPOST_WRITE_ATTEMPTS,
            )
        else:
            raise ProvisionError(
                f"{change.address}: the providers list kept changing under concurrent writes",
                hint="Another apply is writing the same outpost; run apply again when it is done.",
            )
        if providers.added:
            ctx.report("attached", change, ", ".join(providers.added))
        if providers.removed:
            ctx.report("detached", change, ", ".join(providers.removed))
        if ctx.inventory is not None:
            with ctx.lock:
                ctx.inventory.note_outpost_providers(change.key, providers.added, providers.removed)
