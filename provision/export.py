"""Write a spec that describes what a live authentik holds, for the kinds provision manages.

Planning the exported spec against the same instance shows no changes (once the
listed environment variables hold the secret values). Secret-looking attribute
values are never written: they become `!env NAME` placeholders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from provision.resources.proxy_providers import PLAIN_FIELDS as PROXY_FIELDS
from provision.secrets import is_password_like
from provision.state import PROXY_DEFAULT_MAPPINGS

if TYPE_CHECKING:
    from provision.api.client import AuthentikClient

# Targets per bindings request: 100 UUIDs make a query string of about 5 KB.
TARGET_CHUNK = 100
APPLICATION_FIELDS = {
    "launch_url": "meta_launch_url",
    "description": "meta_description",
    "publisher": "meta_publisher",
    "ui_group": "group",
    "policy_engine_mode": "policy_engine_mode",
    "open_in_new_tab": "open_in_new_tab",
}


class EnvPlaceholder:
    """A `!env NAME` tag in the exported YAML."""

    def __init__(self, name: str) -> None:
        self.name = name


@dataclass
class Exported:
    """The spec text and the environment variables it expects."""

    text: str
    env_names: list[str] = field(default_factory=list)


class _Dumper(yaml.SafeDumper):
    pass


def _represent_placeholder(dumper: yaml.SafeDumper, value: EnvPlaceholder) -> yaml.Node:
    return dumper.represent_scalar("!env", value.name)


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(EnvPlaceholder, _represent_placeholder)
_Dumper.add_representer(str, _represent_text)


class _Exporter:
    def __init__(self, client: AuthentikClient) -> None:
        self.client = client
        self.release = client.release
        self.env_names: list[str] = []

    def env_name(self, *parts: str) -> str:
        base = re.sub(r"[^A-Za-z0-9]+", "_", "_".join(parts)).strip("_").upper() or "SECRET"
        name, number = base, 2
        while name in self.env_names:
            name, number = f"{base}_{number}", number + 1
        self.env_names.append(name)
        return name

    def mask(self, group: str, value: Any, path: tuple[str, ...] = ()) -> Any:
        if isinstance(value, dict):
            return {key: self.mask(group, item, (*path, key)) for key, item in value.items()}
        if path and is_password_like(path[-1]) and isinstance(value, str) and value:
            return EnvPlaceholder(self.env_name(group, *path))
        return value

    def run(self, stack: str | None) -> dict[str, Any]:
        release = self.release
        groups = self.client.list("core/groups/")
        mappings = self.client.list(release.scope_mapping_path)
        providers = self.client.list("providers/proxy/")
        flows = {flow["pk"]: flow["slug"] for flow in self.client.list("flows/instances/")}
        params = {"include_details": "false"} if release.has_certificate_include_details else {}
        certificates = {
            item["pk"]: item["name"] for item in self.client.list("crypto/certificatekeypairs/", params)
        }
        applications = self.client.list("core/applications/", {"superuser_full_list": "true"})
        outposts = self.client.list("outposts/instances/")

        group_names = {group["pk"]: group["name"] for group in groups}
        mapping_names = {mapping["pk"]: mapping["name"] for mapping in mappings}
        managed_pks = {
            mapping["pk"] for mapping in mappings if mapping.get("managed") in PROXY_DEFAULT_MAPPINGS
        }
        provider_names = {provider["pk"]: provider["name"] for provider in providers}

        spec: dict[str, Any] = {"version": 1}
        if stack:
            spec["stack"] = stack
        spec["groups"] = [self.group(group, group_names) for group in groups]
        spec["scope_mappings"] = [self.mapping(mapping) for mapping in mappings if not mapping.get("managed")]
        spec["proxy_providers"] = [
            self.provider(provider, flows, certificates, mapping_names, managed_pks) for provider in providers
        ]
        bindings = self.bindings([application["pk"] for application in applications])
        spec["applications"] = [
            self.application(
                application, provider_names, group_names, bindings.get(str(application["pk"]), [])
            )
            for application in applications
        ]
        spec["outposts"] = [
            {
                "name": outpost["name"],
                "providers": [provider_names[pk] for pk in outpost["providers"] if pk in provider_names],
            }
            for outpost in outposts
            if outpost.get("type") == "proxy"
        ]
        return spec

    def group(self, group: dict[str, Any], names: dict[Any, str]) -> dict[str, Any]:
        if self.release.group_parents_field == "parents":
            parents = [names[pk] for pk in group.get("parents") or [] if pk in names]
        else:
            parents = [names[group["parent"]]] if group.get("parent") in names else []
        entry: dict[str, Any] = {"name": group["name"]}
        if group.get("attributes"):
            entry["attributes"] = self.mask(group["name"], group["attributes"])
        entry["is_superuser"] = bool(group.get("is_superuser"))
        if parents:
            entry["parents"] = parents
        members = sorted(user["username"] for user in group.get("users_obj") or [])
        if members:
            entry["members"] = members
        return entry

    @staticmethod
    def mapping(mapping: dict[str, Any]) -> dict[str, Any]:
        entry = {"name": mapping["name"], "scope_name": mapping["scope_name"]}
        if mapping.get("description"):
            entry["description"] = mapping["description"]
        entry["expression"] = mapping.get("expression", "")
        return entry

    def provider(
        self,
        provider: dict[str, Any],
        flows: dict[Any, str],
        certificates: dict[Any, str],
        mappings: dict[Any, str],
        managed: set[Any],
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": provider["name"]}
        for name in PROXY_FIELDS:
            value = provider.get(name)
            if value is None or (value == "" and name not in ("cookie_domain", "skip_path_regex")):
                continue
            entry[name] = value
        entry["authorization_flow"] = flows.get(
            provider.get("authorization_flow"), provider.get("authorization_flow")
        )
        if self.release.has_invalidation_flow and provider.get("invalidation_flow"):
            entry["invalidation_flow"] = flows.get(
                provider["invalidation_flow"], provider["invalidation_flow"]
            )
        entry["property_mappings"] = [
            mappings[pk]
            for pk in provider.get("property_mappings") or []
            if pk in mappings and pk not in managed
        ]
        certificate = provider.get("certificate")
        entry["certificate"] = certificates.get(certificate) if certificate else None
        return entry

    def bindings(self, targets: list[Any]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        ordered = sorted(str(target) for target in targets)
        for start in range(0, len(ordered), TARGET_CHUNK):
            chunk = ordered[start : start + TARGET_CHUNK]
            for binding in self.client.list("policies/bindings/", {"target_in": chunk}):
                found.setdefault(str(binding["target"]), []).append(binding)
        return found

    @staticmethod
    def application(
        application: dict[str, Any],
        providers: dict[Any, str],
        groups: dict[Any, str],
        bindings: list[dict[str, Any]],
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": application["name"], "slug": application["slug"]}
        if application.get("provider") in providers:
            entry["provider"] = providers[application["provider"]]
        for name, api_name in APPLICATION_FIELDS.items():
            value = application.get(api_name)
            if value not in (None, ""):
                entry[name] = value
        access = sorted(
            groups[binding["group"]]
            for binding in bindings
            if binding.get("group") in groups
            and binding.get("enabled", True)
            and not binding.get("negate", False)
        )
        if access:
            entry["access"] = access
        return entry


def export_spec(client: AuthentikClient, *, stack: str | None = None) -> Exported:
    """Read the instance and render it as a spec."""
    exporter = _Exporter(client)
    spec = exporter.run(stack)
    header = (
        f"# Exported by provision from authentik {client.release} at {client.settings.url}.\n"
        "# Secret-looking attribute values are read from the environment (`!env`).\n"
    )
    body = yaml.dump(spec, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    # PyYAML quotes every scalar with a custom tag; the names are plain identifiers.
    body = re.sub(r"!env '([A-Z0-9_]+)'", r"!env \1", body)
    return Exported(text=header + body, env_names=exporter.env_names)
