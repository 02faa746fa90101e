"""The JSON Schema of the spec, generated from the pydantic models, for editors and CI.

The repository ships the output as `schema/provision-spec.schema.json`; a test fails
when that file differs from what `provision schema` prints. Values tagged `!env` or
`!file` are strings to the schema: an editor sees the tag's argument, a string.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from provision.secrets import Secret
from provision.spec.models import SLUG_PATTERN, TIMEDELTA_PATTERN, Spec

SCHEMA_PATH = "schema/provision-spec.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Checks that the models make in validators, repeated as patterns so that editors show them.
# Only plain-string fields: a `!env`/`!file` value would not match a pattern in an editor.
_PATTERNS = {
    ("ApplicationSpec", "slug"): SLUG_PATTERN.pattern,
    ("ScopeMappingSpec", "scope_name"): r"^\S+$",
    ("ProxyProviderSpec", "access_token_validity"): TIMEDELTA_PATTERN.pattern,
    ("ProxyProviderSpec", "refresh_token_validity"): TIMEDELTA_PATTERN.pattern,
}


class _SpecSchemaGenerator(GenerateJsonSchema):
    def is_instance_schema(self, schema: core_schema.IsInstanceSchema) -> JsonSchemaValue:
        if schema["cls"] is Secret:
            return {"type": "string"}
        return super().is_instance_schema(schema)


def spec_schema() -> dict[str, Any]:
    """Build the spec's JSON Schema (draft 2020-12) from the pydantic models."""
    schema = Spec.model_json_schema(schema_generator=_SpecSchemaGenerator)
    for (model, field), pattern in _PATTERNS.items():
        prop = schema["$defs"].get(model, {}).get("properties", {}).get(field)
        if prop is None:
            continue
        target = next((item for item in prop.get("anyOf", []) if item.get("type") == "string"), prop)
        target["pattern"] = pattern
    return {
        "$schema": DIALECT,
        "title": "provision spec (version 1)",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def render_spec_schema() -> str:
    return json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n"
