"""A spec as a native authentik blueprint (`version: 1`), for setups that prefer blueprints.

Objects of the spec become entries with the same fields under authentik's API
names. References between entries use `!KeyOf`; references to objects outside
the spec (flows, certificates, users, groups and outposts that already exist)
use `!Find`. A secret is never written: `!env NAME` becomes `!Env NAME`, which
authentik reads from its own environment, and a `!file` secret becomes an
`!Env` placeholder named in the header, to be set on the authentik side.

Blueprints set list fields as a whole, while provision only adds group members
and outpost providers. Those two entries are left out unless asked for, so
that applying the blueprint never detaches what other configuration attached.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

import yaml

from provision import __version__
from provision.secrets import Secret
from provision.spec.load import SpecFile

SCHEMA_URL = "https://goauthentik.io/blueprints/schema.json"
TARGET_RELEASE = "2025.12"

MODELS = {
    "groups": "authentik_core.group",
    "scope_mappings": "authentik_providers_oauth2.scopemapping",
    "proxy_providers": "authentik_providers_proxy.proxyprovider",
    "applications": "authentik_core.application",
    "outposts": "authentik_outposts.outpost",
    "bindings": "authentik_policies.policybinding",
    "flows": "authentik_flows.flow",
    "certificates": "authentik_crypto.certificatekeypair",
    "users": "authentik_core.user",
}
ID_PREFIX = {
    "groups": "group",
    "scope_mappings": "scope-mapping",
    "proxy_providers": "provider",
    "applications": "application",
}
# An application's spec fields whose authentik names differ.
APPLICATION_API_NAMES = {
    "launch_url": "meta_launch_url",
    "description": "meta_description",
    "publisher": "meta_publisher",
    "ui_group": "group",
}


@dataclass(frozen=True)
class Tag:
    """A value written with one of authentik's YAML tags, such as `!KeyOf` or `!Find`."""

    tag: str
    value: str | list[Any]


@dataclass
class Blueprint:
    """The rendered document and the notes for its header."""

    document: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    placeholders: dict[str, str] = field(default_factory=dict)

    def to_yaml(self, source: str) -> str:
        header = [
            f"# yaml-language-server: $schema={SCHEMA_URL}",
            f"# Rendered by provision {__version__} from {source} for authentik {TARGET_RELEASE}.",
            "# Apply it through authentik's blueprints (a file in /blueprints or a blueprint instance).",
        ]
        if self.placeholders:
            header.append("# Set these variables in the environment of authentik's server and worker:")
            header += [f"#   {name}: {origin}" for name, origin in self.placeholders.items()]
        for note in self.notes:
            header += textwrap.wrap(f"Note: {note}", 96, initial_indent="# ", subsequent_indent="#   ")
        body = yaml.dump(self.document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
        # PyYAML quotes every tagged scalar; a variable name reads better bare.
        body = re.sub(r"!Env '([A-Za-z_][A-Za-z0-9_]*)'", r"!Env \1", body)
        return "\n".join(header) + "\n" + body


class _Dumper(yaml.SafeDumper):
    pass


def _represent_tag(dumper: yaml.SafeDumper, tag: Tag) -> yaml.Node:
    if isinstance(tag.value, list):
        return dumper.represent_sequence(tag.tag, tag.value, flow_style=True)
    return dumper.represent_scalar(tag.tag, tag.value)


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(Tag, _represent_tag)
_Dumper.add_representer(str, _represent_text)


class _Renderer:
    def __init__(self, spec_file: SpecFile, replace_lists: bool) -> None:
        self.spec_file = spec_file
        self.spec = spec_file.spec
        self.replace_lists = replace_lists
        self.blueprint = Blueprint(document={})

    def render(self) -> Blueprint:
        entries: list[dict[str, Any]] = []
        entries += [self._group(group) for group in self.spec.groups]
        entries += [self._scope_mapping(mapping) for mapping in self.spec.scope_mappings]
        entries += [self._provider(provider) for provider in self.spec.proxy_providers]
        for application in self.spec.applications:
            entries.append(self._application(application))
            entries += self._bindings(application)
        entries += self._outposts()
        name = getattr(self.spec, "stack", None) or self.spec_file.path.stem
        self.blueprint.document = {
            "version": 1,
            "metadata": {
                "name": f"{name} (rendered by provision)",
                "labels": {
                    "blueprints.goauthentik.io/description": f"Rendered from {self.spec_file.path.name}"
                },
            },
            "entries": entries,
        }
        return self.blueprint

    # -- entries ----------------------------------------------------------------

    def _entry(
        self, section: str, name: str, identifiers: dict[str, Any], attrs: dict[str, Any]
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"model": MODELS[section], "state": "present"}
        if section in ID_PREFIX:
            entry["id"] = _entry_id(section, name)
        entry["identifiers"] = identifiers
        entry["attrs"] = attrs
        return entry

    def _group(self, group: Any) -> dict[str, Any]:
        attrs = self._plain_fields(group, ("attributes", "is_superuser"), f"group {group.name!r}")
        if group.parents is not None:
            attrs["parents"] = [self._ref("groups", parent) for parent in group.parents]
        if group.members is not None:
            if self.replace_lists:
                attrs["users"] = [self._find("users", "username", member) for member in group.members]
            else:
                self.blueprint.notes.append(
                    f"the members of group {group.name!r} are left out, because a blueprint would replace "
                    "the whole member list; pass --replace-lists to include them."
                )
        return self._entry("groups", group.name, {"name": group.name}, attrs)

    def _scope_mapping(self, mapping: Any) -> dict[str, Any]:
        where = f"scope mapping {mapping.name!r}"
        attrs = self._plain_fields(mapping, ("scope_name", "description"), where)
        attrs["expression"] = self._value(self.spec_file.expressions[mapping.name], where)
        return self._entry("scope_mappings", mapping.name, {"name": mapping.name}, attrs)

    def _provider(self, provider: Any) -> dict[str, Any]:
        where = f"proxy provider {provider.name!r}"
        plain = [name for name in provider.model_fields_set if name not in _PROVIDER_REFERENCES]
        attrs = self._plain_fields(
            provider, sorted(plain, key=list(type(provider).model_fields).index), where
        )
        for flow in ("authorization_flow", "invalidation_flow"):
            if getattr(provider, flow) is not None:
                attrs[flow] = self._find("flows", "slug", getattr(provider, flow))
        if provider.property_mappings is not None:
            attrs["property_mappings"] = [
                self._ref("scope_mappings", name) for name in provider.property_mappings
            ]
        if "certificate" in provider.model_fields_set:
            name = provider.certificate
            attrs["certificate"] = None if name is None else self._find("certificates", "name", name)
        return self._entry("proxy_providers", provider.name, {"name": provider.name}, attrs)

    def _application(self, application: Any) -> dict[str, Any]:
        where = f"application {application.slug!r}"
        names = (
            "name",
            "launch_url",
            "description",
            "publisher",
            "ui_group",
            "policy_engine_mode",
            "open_in_new_tab",
        )
        attrs = self._plain_fields(application, names, where, APPLICATION_API_NAMES)
        if application.provider is not None:
            attrs["provider"] = self._ref("proxy_providers", application.provider)
        return self._entry("applications", application.slug, {"slug": application.slug}, attrs)

    def _bindings(self, application: Any) -> list[dict[str, Any]]:
        if application.access is None:
            return []
        if application.access:
            self.blueprint.notes.append(
                f"group bindings of application {application.slug!r} that the spec does not list stay "
                "in place: a blueprint cannot delete objects it does not name."
            )
        target = Tag("!KeyOf", _entry_id("applications", application.slug))
        return [
            {
                "model": MODELS["bindings"],
                "state": "present",
                "identifiers": {"target": target, "group": self._ref("groups", group)},
                "attrs": {"order": order, "enabled": True, "negate": False},
            }
            for order, group in enumerate(application.access)
        ]

    def _outposts(self) -> list[dict[str, Any]]:
        if not self.spec.outposts:
            return []
        if not self.replace_lists:
            self.blueprint.notes.append(
                "outpost memberships are left out, because a blueprint would replace the outpost's whole "
                "provider list; pass --replace-lists to include them."
            )
            return []
        return [
            {
                "model": MODELS["outposts"],
                "state": "present",
                "identifiers": {"pk": self._find("outposts", "name", outpost.name)},
                "attrs": {"providers": [self._ref("proxy_providers", name) for name in outpost.providers]},
            }
            for outpost in self.spec.outposts
        ]

    # -- values -----------------------------------------------------------------

    def _plain_fields(
        self, item: Any, names: Any, where: str, api_names: dict[str, str] | None = None
    ) -> dict[str, Any]:
        api_names = api_names or {}
        return {
            api_names.get(name, name): self._value(getattr(item, name), where)
            for name in names
            if name in item.model_fields_set
        }

    def _ref(self, section: str, name: str) -> Tag:
        """`!KeyOf` for an object of the spec, `!Find` for one that must already exist."""
        key = "slug" if section == "applications" else "name"
        if any(getattr(item, key) == name for item in getattr(self.spec, section)):
            return Tag("!KeyOf", _entry_id(section, name))
        return self._find(section, key, name)

    def _find(self, section: str, key: str, value: str) -> Tag:
        return Tag("!Find", [MODELS[section], [key, value]])

    def _value(self, value: Any, where: str) -> Any:
        """The value with every secret replaced by an `!Env` tag; a secret's content is never read."""
        if isinstance(value, Secret):
            return self._secret(value, where)
        if isinstance(value, dict):
            return {key: self._value(item, where) for key, item in value.items()}
        if isinstance(value, list):
            return [self._value(item, where) for item in value]
        return value

    def _secret(self, secret: Secret, where: str) -> Tag:
        kind, _, origin = secret.source.partition(":")
        if kind == "env":
            return Tag("!Env", origin)
        name = "PROVISION_" + re.sub(r"[^A-Z0-9]+", "_", origin.upper()).strip("_")
        self.blueprint.placeholders[name] = f"the content of {origin} (a !file secret of {where})"
        return Tag("!Env", name)


_PROVIDER_REFERENCES = {"name", "authorization_flow", "invalidation_flow", "property_mappings", "certificate"}


def _entry_id(section: str, name: str) -> str:
    return f"{ID_PREFIX[section]}:{name}"


def render_blueprint(spec_file: SpecFile, *, replace_lists: bool = False) -> Blueprint:
    """The spec's objects as blueprint entries; see the module docstring for what differs."""
    return _Renderer(spec_file, replace_lists).render()
