"""``providers/proxy/``: the validation traps and the server-side additions of every save."""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urljoin

from ..errors import invalid
from ..openapi import assigned_fields_are_null
from .base import Record, Request, Resource, same_pk

MANAGED_SCOPES = (
    "goauthentik.io/providers/oauth2/scope-openid",
    "goauthentik.io/providers/oauth2/scope-profile",
    "goauthentik.io/providers/oauth2/scope-email",
    "goauthentik.io/providers/oauth2/scope-entitlements",  # exists from 2024.12
    "goauthentik.io/providers/proxy/scope-proxy",
)
CALLBACK_SIGNATURE = "X-authentik-auth-callback"
TIMEDELTA_KEYS = ("microseconds", "milliseconds", "seconds", "minutes", "hours", "days", "weeks")
_URL = re.compile(r"^https?://[^/\s]+", re.IGNORECASE)


def timedelta_error(value: str) -> str | None:
    """authentik's ``timedelta_string_validator`` ("hours=1;minutes=2")."""
    durations = {}
    try:
        for pair in value.split(";"):
            key, number = pair.split("=")
            if key.lower() in TIMEDELTA_KEYS:
                durations[key.lower()] = float(number.strip())
    except ValueError:
        durations = {}
    if durations:
        return None
    return f"{value} is not in the correct format of 'hours=3;minutes=1'."


class ProxyProviders(Resource):
    kind = "proxy_provider"
    model = "ProxyProvider"
    component = "ProxyProvider"
    collection = ("/providers/proxy/",)
    item = ("/providers/proxy/{id}/",)
    # Only __iexact lookups exist: a plain `name` is not declared, so it is ignored.
    exact_filters: ClassVar[dict[str, str]] = {
        f"{name}__iexact": name
        for name in (
            "name",
            "internal_host",
            "external_host",
            "internal_host_ssl_validation",
            "mode",
            "cookie_domain",
            "skip_path_regex",
            "basic_auth_enabled",
            "basic_auth_password_attribute",
            "basic_auth_user_attribute",
        )
    } | {"certificate__kp_uuid__iexact": "certificate"}
    relations: ClassVar[dict[str, str]] = {
        "authorization_flow": "flow",
        "authentication_flow": "flow",
        "invalidation_flow": "flow",
        "certificate": "certificate",
        "property_mappings": "scope_mapping",
        "jwks_sources": "source",
        "jwt_federation_sources": "source",
        "jwt_federation_providers": "oauth2_provider",
    }

    def defaults(self) -> Record:
        return {
            "authentication_flow": None,
            "invalidation_flow": None,
            "property_mappings": [],
            "component": "ak-provider-proxy-form",
            "verbose_name": "Proxy Provider",
            "verbose_name_plural": "Proxy Providers",
            "meta_model_name": "authentik_providers_proxy.proxyprovider",
            "client_id": self.server.random_string(40),
            "internal_host": "",
            "internal_host_ssl_validation": True,
            "certificate": None,
            "skip_path_regex": "",
            "basic_auth_enabled": False,
            "basic_auth_password_attribute": "",
            "basic_auth_user_attribute": "",
            "mode": "proxy",
            "intercept_header_auth": True,
            "cookie_domain": "",
            "jwks_sources": [],
            "jwt_federation_sources": [],
            "jwt_federation_providers": [],
            "access_token_validity": "hours=1",
            "refresh_token_validity": "days=30",
        }

    def new_record(self, data: Record) -> Record:
        return {"pk": self.server.next_int("provider"), **data}

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        records = self.exact(records, request)
        if slug := request.first("authorization_flow__slug__iexact"):
            flow = self.server.lookup_by("flow", "slug", slug)
            records = [r for r in records if flow and same_pk(r["authorization_flow"], flow["pk"])]
        if name := request.first("certificate__name__iexact"):
            cert = self.server.lookup_by("certificate", "name", name)
            records = [r for r in records if cert and same_pk(r["certificate"], cert["pk"])]
        if (isnull := request.first("application__isnull")) is not None:
            want_unassigned = isnull.lower() == "true"
            records = [r for r in records if (self._app(r) is None) == want_unassigned]
        return records

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        errors: dict[str, Any] = {}
        name = data.get("name")
        # Provider.name is unique across all provider types.
        if name is not None and any(p["name"] == name for p in self.records if p is not instance):
            errors["name"] = "Provider with this name already exists."
        for host in ("internal_host", "external_host"):
            value = data.get(host)
            if value and not _URL.match(value):
                errors[host] = "Enter a valid URL."
        for validity in ("access_token_validity", "refresh_token_validity"):
            if validity in data and (problem := timedelta_error(data[validity])):
                errors[validity] = problem
        if data.get("basic_auth_enabled") and not self._basic_auth_attributes(request):
            errors["basic_auth_enabled"] = (
                "User and password attributes must be set when basic auth is enabled."
            )
        if errors:
            raise invalid(errors)
        # The object check only sees this request's fields: a PATCH without `mode` counts
        # as mode proxy, and a missing internal_host as "" (every release).
        if data.get("mode", "proxy") == "proxy" and data.get("internal_host", "") == "":
            raise invalid({"internal_host": "Internal host cannot be empty when forward auth is disabled."})
        return data

    @staticmethod
    def _basic_auth_attributes(request: Request) -> bool:
        """The check reads the raw request body, so both attributes must be sent along."""
        body = request.body
        return bool(
            body.get("basic_auth_password_attribute", "") and body.get("basic_auth_user_attribute", "")
        )

    def save(self, record: Record, data: Record, request: Request) -> None:
        record.update(data)
        # set_oauth_defaults(): the managed scopes are added on every create and update.
        for mapping in self.server.store("scope_mapping"):
            if mapping["managed"] in MANAGED_SCOPES and mapping["pk"] not in record["property_mappings"]:
                record["property_mappings"].append(mapping["pk"])
        record["redirect_uris"] = self._redirect_uris(record["external_host"])

    def _redirect_uris(self, external_host: str) -> Any:
        urls = [
            urljoin(external_host, "outpost.goauthentik.io/callback") + f"?{CALLBACK_SIGNATURE}=true",
            external_host + f"?{CALLBACK_SIGNATURE}=true",
        ]
        # A newline-separated string up to 2024.8.5 / 2024.10.3, a list of objects after.
        field = self.server.schema["components"]["schemas"][self.component]["properties"]
        if field["redirect_uris"].get("type") == "string":
            return "\n".join(urls)
        return [{"matching_mode": "strict", "url": url} for url in urls]

    def _app(self, record: Record) -> Record | None:
        for app in self.server.store("application"):
            if app["provider"] == record["pk"]:
                return app
        return None

    def derive(self, record: Record) -> None:
        outposts = self.server.store("outpost")
        record["outpost_set"] = [f"Outpost {o['name']}" for o in outposts if record["pk"] in o["providers"]]
        apps = self.server.store("application")
        backchannel = next((a for a in apps if record["pk"] in a["backchannel_providers"]), None)
        assign(record, "assigned_application", self._app(record), self.server.release)
        assign(record, "assigned_backchannel_application", backchannel, self.server.release)

    def on_delete(self, record: Record) -> None:
        for outpost in self.server.store("outpost"):
            if record["pk"] in outpost["providers"]:
                outpost["providers"].remove(record["pk"])
        for app in self.server.store("application"):
            if app["provider"] == record["pk"]:
                app["provider"] = None
            if record["pk"] in app["backchannel_providers"]:
                app["backchannel_providers"].remove(record["pk"])


def assign(record: Record, prefix: str, app: Record | None, release: Any) -> None:
    """Set ``<prefix>_slug``/``_name``; unassigned they are omitted before the null fix."""
    for part in ("slug", "name"):
        key = f"{prefix}_{part}"
        if app is not None:
            record[key] = app[part]
        elif assigned_fields_are_null(release):
            record[key] = None
        else:
            record.pop(key, None)


class AllProviders(Resource):
    """``providers/all/``: every provider type; the fake only stores proxy providers."""

    kind = "proxy_provider"
    model = "Provider"
    component = "Provider"
    collection = ("/providers/all/",)

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("/providers/all/", "GET"): self.list}
