"""``managed/blueprints/``: blueprint instances, stored but never applied by the fake."""

from __future__ import annotations

from typing import ClassVar

import yaml

from ..errors import invalid
from .base import Record, Request, Resource


class BlueprintInstances(Resource):
    kind = "blueprint_instance"
    model = "BlueprintInstance"
    component = "BlueprintInstance"
    collection = ("/managed/blueprints/",)
    item = ("/managed/blueprints/{instance_uuid}/",)
    search_fields = ("name", "path")
    exact_filters: ClassVar[dict[str, str]] = {"name": "name", "path": "path"}

    def defaults(self) -> Record:
        return {
            "path": "",
            "context": {},
            "enabled": True,
            "content": "",
            "status": "unknown",
            "last_applied": "2026-01-01T00:00:00Z",
            "last_applied_hash": "",
            "managed_models": [],
            "metadata": {},
        }

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        name = data.get("name", instance["name"] if instance else None)
        if any(r["name"] == name and r is not instance for r in self.records):
            raise invalid({"name": "blueprint instance with this name already exists."})
        # The check only sees this request's fields, so a PATCH must repeat `content`
        # or `path` (seen on live 2024.10.5 and 2025.12.4 servers).
        path = data.get("path", "")
        content = data.get("content", "")
        if path == "" and content == "":
            raise invalid({"non_field_errors": "Either path or content must be set."})
        if path:
            # The fake has no blueprint files on disk.
            raise invalid({"path": "Blueprint file does not exist"})
        if content:
            try:
                document = yaml.safe_load(content)
            except yaml.YAMLError:
                document = None
            if not isinstance(document, dict) or document.get("version") != 1:
                raise invalid({"content": ["Failed to validate blueprint", "- Invalid blueprint version"]})
        return data
