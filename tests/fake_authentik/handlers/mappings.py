"""Scope mappings (``propertymappings/scope/`` up to 2024.6, ``propertymappings/provider/scope/``
from 2024.8) and the all-types view ``propertymappings/all/`` with its test endpoint."""

from __future__ import annotations

import json
import textwrap
from typing import Any, ClassVar

from ..errors import invalid
from .base import Record, Reply, Request, Resource

SELECT_VALID = "Select a valid choice. {} is not one of the available choices."


class ScopeMappings(Resource):
    kind = "scope_mapping"
    model = "ScopeMapping"
    component = "ScopeMapping"
    # Only the one present in the release's schema gets routed: the other path 404s.
    collection = ("/propertymappings/scope/", "/propertymappings/provider/scope/")
    item = ("/propertymappings/scope/{pm_uuid}/", "/propertymappings/provider/scope/{pm_uuid}/")
    search_fields = ("name", "scope_name")
    exact_filters: ClassVar[dict[str, str]] = {"name": "name", "scope_name": "scope_name"}

    def defaults(self) -> Record:
        # The form component moved with the path in 2024.8.
        moved = self.server.release.at_least("2024.8")
        return {
            "managed": None,
            "description": "",
            "component": "ak-property-mapping-provider-scope-form"
            if moved
            else "ak-property-mapping-scope-form",
            "verbose_name": "Scope Mapping",
            "verbose_name_plural": "Scope Mappings",
            "meta_model_name": "authentik_providers_oauth2.scopemapping",
        }

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        return filter_mappings(self.exact(records, request), request)

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        errors: dict[str, Any] = {}
        name = data.get("name")
        # `name` is unique across every property-mapping type (PropertyMapping.name).
        if name is not None and any(m["name"] == name for m in self.records if m is not instance):
            errors["name"] = "Property Mapping with this name already exists."
        if " " in data.get("scope_name", ""):
            errors["scope_name"] = "Value must not contain spaces."
        if "expression" in data and (problem := expression_error(data["expression"])):
            errors["expression"] = problem
        if errors:
            raise invalid(errors)
        return data

    def on_delete(self, record: Record) -> None:
        for provider in self.server.store("proxy_provider"):
            provider["property_mappings"] = [pk for pk in provider["property_mappings"] if pk != record["pk"]]


def filter_mappings(records: list[Record], request: Request) -> list[Record]:
    """``managed`` (multiple choice: unknown values are a 400) and ``managed__isnull``."""
    if managed := request.query.get("managed"):
        known = {r["managed"] for r in records if r["managed"]}
        for value in managed:
            if value not in known:
                raise invalid({"managed": SELECT_VALID.format(value)})
        records = [r for r in records if r["managed"] in managed]
    if (isnull := request.first("managed__isnull")) is not None:
        records = [r for r in records if (r["managed"] is None) == (isnull.lower() == "true")]
    return records


def expression_error(expression: str) -> str | None:
    """authentik compiles the expression as a function body; report what it would."""
    source = "def handler():\n" + textwrap.indent(expression or "pass", "    ")
    try:
        compile(source, "<expression>", "exec")
    except SyntaxError as exc:
        return f"Expression Syntax Error: {exc}"
    return None


class AllMappings(Resource):
    """``propertymappings/all/``: every mapping type; the fake only stores scope mappings."""

    kind = "scope_mapping"
    model = "PropertyMapping"
    component = "PropertyMapping"
    collection = ("/propertymappings/all/",)
    item = ("/propertymappings/all/{pm_uuid}/",)
    exact_filters: ClassVar[dict[str, str]] = {"name": "name"}  # declared from 2024.8; ignored before

    def routes(self) -> dict[tuple[str, str], Any]:
        table = {
            ("/propertymappings/all/", "GET"): self.list,
            ("/propertymappings/all/{pm_uuid}/", "GET"): self.retrieve,
            ("/propertymappings/all/{pm_uuid}/", "DELETE"): self.destroy,
            ("/propertymappings/all/{pm_uuid}/test/", "POST"): self.test,
        }
        return table

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        return filter_mappings(self.exact(records, request), request)

    def on_delete(self, record: Record) -> None:
        ScopeMappings(self.server).on_delete(record)

    def test(self, request: Request) -> Reply:
        """Return ``fake.mapping_test_result``, because the fake can't run expressions."""
        self.get(request)
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("user") is not None and self.server.lookup("user", body["user"]) is None:
            raise invalid({"user": f'Invalid pk "{body["user"]}" - object does not exist.'})
        result = self.server.mapping_test_result
        if isinstance(result, BaseException):
            return Reply(200, {"result": str(result), "successful": False})
        indent = 4 if request.flag("format_result", False) else None
        return Reply(200, {"result": json.dumps(result, indent=indent), "successful": True})
