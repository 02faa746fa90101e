"""``outposts/instances/``: providers are replaced as a whole; the embedded one may be empty."""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import invalid
from .base import Record, Reply, Request, Resource
from .providers import timedelta_error

EMBEDDED = "goauthentik.io/outposts/embedded"
SELECT_VALID = "Select a valid choice. {} is not one of the available choices."

DEFAULT_CONFIG: dict[str, Any] = {
    "authentik_host": "",
    "authentik_host_insecure": False,
    "authentik_host_browser": "",
    "log_level": "info",
    "object_naming_template": "ak-outpost-%(name)s",
    "refresh_interval": "minutes=5",
    "docker_network": None,
    "docker_map_ports": True,
    "docker_labels": None,
    "container_image": None,
    "kubernetes_replicas": 1,
    "kubernetes_namespace": "default",
    "kubernetes_ingress_annotations": {},
    "kubernetes_ingress_secret_name": "authentik-outpost-tls",
    "kubernetes_ingress_class_name": None,
    "kubernetes_service_type": "ClusterIP",
    "kubernetes_disabled_components": [],
    "kubernetes_image_pull_secrets": [],
    "kubernetes_json_patches": None,
}
_CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {
    "authentik_host": str,
    "authentik_host_insecure": bool,
    "authentik_host_browser": str,
    "log_level": str,
    "object_naming_template": str,
    "refresh_interval": str,
    "kubernetes_replicas": int,
    "kubernetes_namespace": str,
}


class Outposts(Resource):
    kind = "outpost"
    model = "Outpost"
    component = "Outpost"
    collection = ("/outposts/instances/",)
    item = ("/outposts/instances/{uuid}/",)
    exact_filters: ClassVar[dict[str, str]] = {"name__iexact": "name", "managed__iexact": "managed"}
    relations: ClassVar[dict[str, str]] = {
        "providers": "proxy_provider",
        "service_connection": "service_connection",
    }

    def routes(self) -> dict[tuple[str, str], Any]:
        table = super().routes()
        table[("/outposts/instances/default_settings/", "GET")] = self.default_settings
        return table

    def default_settings(self, request: Request) -> Reply:
        return Reply(200, {"config": dict(DEFAULT_CONFIG)})

    def defaults(self) -> Record:
        return {"service_connection": None, "managed": None, "config": dict(DEFAULT_CONFIG)}

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        records = self.exact(records, request)
        for param, key in (("name__icontains", "name"), ("managed__icontains", "managed")):
            if (value := request.first(param)) is not None:
                records = [r for r in records if value.lower() in str(r[key] or "").lower()]
        if pks := request.query.get("providers_by_pk"):
            for pk in pks:
                if not pk.isdigit() or self.server.lookup("proxy_provider", int(pk)) is None:
                    raise invalid({"providers_by_pk": SELECT_VALID.format(pk)})
            records = [r for r in records if {int(pk) for pk in pks} & set(r["providers"])]
        if (isnull := request.first("providers__isnull")) is not None:
            records = [r for r in records if (not r["providers"]) == (isnull.lower() == "true")]
        return records

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        errors: dict[str, Any] = {}
        name = data.get("name")
        if name is not None and any(o["name"] == name for o in self.records if o is not instance):
            errors["name"] = "Outpost with this name already exists."
        if "providers" in data and (problem := self._providers_error(data, instance, request)):
            errors["providers"] = problem
        if "config" in data and (problem := self._config_error(data["config"])):
            errors["config"] = problem
        if errors:
            raise invalid(errors)
        return data

    def _providers_error(self, data: Record, instance: Record | None, request: Request) -> str | None:
        # The type check reads `type` from the raw body: only checked when it is sent.
        kind = request.body.get("type")
        if kind is not None and kind != "proxy" and data["providers"]:
            return f"Outpost type {kind} can't be used with ProxyProvider providers."
        embedded = instance is not None and instance.get("managed") == EMBEDDED
        if not data["providers"] and not embedded:
            return "This list may not be empty."
        return None

    def _config_error(self, config: dict[str, Any]) -> str | None:
        for key, expected in _CONFIG_TYPES.items():
            if key in config and not isinstance(config[key], expected):
                return f'Failed to validate config: wrong value type for field "{key}"'
        # From 2024.6 refresh_interval must also be a valid timedelta string.
        interval = config.get("refresh_interval")
        if interval and self.server.release.at_least("2024.6") and timedelta_error(interval):
            return f"Failed to validate config: {timedelta_error(interval)}"
        return None

    def derive(self, record: Record) -> None:
        providers = [self.server.lookup("proxy_provider", pk) for pk in record["providers"]]
        record["providers_obj"] = [p for p in providers if p]
        record["service_connection_obj"] = None
        record["token_identifier"] = f"ak-outpost-{record['pk']}-api"
        record["refresh_interval_s"] = _seconds(record["config"].get("refresh_interval", ""))


def _seconds(interval: str) -> int:
    units = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
    total = 0.0
    for pair in interval.split(";"):
        key, _, number = pair.partition("=")
        if key in units and number:
            total += float(number) * units[key]
    return int(total) or 300
