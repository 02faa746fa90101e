"""Validating requests and responses against one authentik release's OpenAPI 3.0 schema.

Requests are checked strictly: a body property or query parameter the operation does not
declare is a violation, although the real server silently ignores it, because sending one is
always a client bug (a misspelled filter returns the whole list, a renamed field is dropped).
Responses are checked leniently (extra properties are fine) to keep the fake honest.
"""

from __future__ import annotations

import copy
import functools
import re
import uuid
from dataclasses import dataclass
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from openapi_schema_validator import OAS30ReadValidator, OAS30Validator, OAS30WriteValidator

from .schemas import Release, Schema, load_schema, resolve

API_PREFIX = "/api/v3"
METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Route:
    """A request path matched to one path template of the schema."""

    template: str
    params: dict[str, str]
    item: Schema

    def operation(self, method: str) -> Schema | None:
        op = self.item.get(method.lower())
        return op if isinstance(op, dict) else None

    @property
    def methods(self) -> list[str]:
        return [m.upper() for m in METHODS if m in self.item]


def relative_path(path: str) -> str:
    """``/api/v3/core/groups/`` and ``/core/groups/`` both give ``/core/groups/``."""
    if path.startswith(API_PREFIX + "/"):
        return path[len(API_PREFIX) :]
    return path


def _template_regex(template: str) -> re.Pattern[str]:
    """``/core/groups/{group_uuid}/`` → a regex with one named group per path parameter."""
    pieces = _PARAM.split(template)
    # split() alternates literal text and parameter names.
    regex = "".join(
        re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>[^/]+)" for index, piece in enumerate(pieces)
    )
    return re.compile(f"^{regex}$")


class PathRouter:
    """Matches request paths to the path templates of one schema, literal segments first."""

    def __init__(self, schema: Schema) -> None:
        compiled = []
        for template, item in schema["paths"].items():
            compiled.append((template.count("{"), template, _template_regex(template), item))
        # `/outposts/instances/default_settings/` must win over `/outposts/instances/{uuid}/`.
        compiled.sort(key=lambda entry: entry[0])
        self._routes = compiled

    def match(self, path: str) -> Route | None:
        path = relative_path(path)
        for _count, template, regex, item in self._routes:
            found = regex.match(path)
            if found:
                return Route(template, found.groupdict(), item)
        return None


def _component_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _response_component(request_component: str) -> str:
    """``PatchedGroupRequest`` and ``GroupRequest`` describe writes to ``Group``."""
    name = request_component.removeprefix("Patched")
    return name.removesuffix("Request")


def _fix_nullable_allof(node: Any) -> Any:
    """Rewrite ``{allOf: [X], nullable: true}`` as ``anyOf [X, null]``.

    drf-spectacular wraps nullable enum and object references this way, and the OAS 3.0
    validator rejects ``null`` for them because the referenced schema is not nullable.
    """
    if isinstance(node, list):
        return [_fix_nullable_allof(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _fix_nullable_allof(value) for key, value in node.items()}
    if node.get("nullable") and "allOf" in node:
        rest = {k: v for k, v in node.items() if k not in ("allOf", "nullable")}
        inner = node["allOf"][0] if len(node["allOf"]) == 1 else {"allOf": node["allOf"]}
        return {**rest, "anyOf": [inner, {"enum": [None], "nullable": True}]}
    return node


def _make_strict(node: Any) -> Any:
    """Forbid properties an object schema doesn't declare (no allOf composition of objects
    appears in authentik's schemas, so closing every object is safe)."""
    if isinstance(node, list):
        return [_make_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _make_strict(value) for key, value in node.items()}
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def _server_quirks(components: dict[str, Any], release: Release) -> None:
    """Loosen response schemas where every real server deviates from its own schema."""
    # Read-only nested fields that are null when unset although the schema of some
    # releases doesn't say so (DRF returns None through a None relation): PolicyBinding
    # *_obj until 2026.5, Outpost.service_connection_obj until 2025.8, parent_name.
    for name, key in (
        ("PolicyBinding", "policy_obj"),
        ("PolicyBinding", "group_obj"),
        ("PolicyBinding", "user_obj"),
        ("Outpost", "service_connection_obj"),
        ("UserGroup", "parent_name"),
        ("Group", "parent_name"),
        # Null while unassigned, although older schemas say string (seen on a live 2024.10.5).
        *(
            (component, f"assigned_{kind}application_{part}")
            for component in ("Provider", "ProxyProvider")
            for kind in ("", "backchannel_")
            for part in ("slug", "name")
        ),
    ):
        _allow_null(components.get(name, {}).get("properties", {}), key)


def _allow_null(properties: dict[str, Any], key: str) -> None:
    prop = properties.get(key)
    if prop is None or "anyOf" in prop or prop.get("nullable"):
        return
    inner = prop["allOf"][0] if "allOf" in prop else {k: v for k, v in prop.items() if k != "readOnly"}
    properties[key] = {"anyOf": [inner, {"enum": [None], "nullable": True}], "readOnly": True}


def assigned_fields_are_null(release: Release) -> bool:
    """Whether a provider's unassigned ``assigned_*`` fields are null (else omitted).

    The API notes say they were omitted before 2025.8.6 / 2025.10.4 / 2025.12.2, but
    a live 2024.10.5 server returned them as null, as DRF does for a missing
    relation; the later patches only fixed the schema. So they are null everywhere.
    """
    return True


@functools.cache
def _components(release: str, strict: bool) -> dict[str, Any]:
    schema = load_schema(release)
    components = copy.deepcopy(schema["components"]["schemas"])
    components = _fix_nullable_allof(components)
    if strict:
        components = _make_strict(components)
        for name, component in components.items():
            if isinstance(component, dict):
                component["x-component"] = name
    else:
        _server_quirks(components, Release.parse(schema["info"]["version"]))
    return components


@functools.cache
def _validator(release: str, node_json: str, mode: str) -> Validator:
    import json

    node = json.loads(node_json)
    strict = mode == "write"
    cls = OAS30WriteValidator if strict else OAS30ReadValidator
    root = {**_fix_nullable_allof(node), "components": {"schemas": _components(release, strict)}}
    if strict:
        root = _make_strict(root)
    return cls(root, format_checker=OAS30Validator.FORMAT_CHECKER)


def _node_key(node: Schema) -> str:
    import json

    return json.dumps(node, sort_keys=True)


class RequestValidator:
    """Checks requests (strictly) and responses (leniently) against one release's schema."""

    def __init__(self, release: str) -> None:
        self.release = release
        self.schema = load_schema(release)
        self.router = PathRouter(self.schema)
        self.version = Release.parse(self.schema["info"]["version"])

    def validate(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]] | None = None,
        body: Any = None,
    ) -> list[str]:
        """Every way the request breaks the schema, as readable messages; [] when valid."""
        route = self.router.match(path)
        if route is None:
            return [f"unknown path {relative_path(path)} (not in the {self.release} schema)"]
        op = route.operation(method)
        if op is None:
            allowed = ", ".join(route.methods)
            return [f"method {method.upper()} not allowed on {route.template} (allowed: {allowed})"]
        parameters = self._parameters(route, op)
        problems = self._check_path_params(route, parameters)
        problems += self._check_query(query or {}, parameters)
        problems += self._check_body(op, body)
        return problems

    def validate_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Mismatches between a response body and the operation's response schema."""
        route = self.router.match(path)
        op = route.operation(method) if route else None
        if op is None:
            return []
        response = resolve(self.schema, op.get("responses", {}).get(str(status)))
        if not isinstance(response, dict):
            return [f"status {status} is not declared for {method.upper()} {route.template}"]  # type: ignore[union-attr]
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            return []
        validator = _validator(self.release, _node_key(schema), "read")
        return [_describe(error, "response") for error in validator.iter_errors(body)]

    def _parameters(self, route: Route, op: Schema) -> dict[tuple[str, str], Schema]:
        found: dict[tuple[str, str], Schema] = {}
        for raw in [*route.item.get("parameters", []), *op.get("parameters", [])]:
            param = resolve(self.schema, raw)
            found[(param["in"], param["name"])] = param
        return found

    def _check_path_params(self, route: Route, parameters: dict[tuple[str, str], Schema]) -> list[str]:
        problems = []
        for name, value in route.params.items():
            param = parameters.get(("path", name), {})
            problem = _check_scalar(value, resolve(self.schema, param.get("schema", {})))
            if problem:
                problems.append(f"path parameter {name}={value!r}: {problem}")
        return problems

    def _check_query(
        self, query: dict[str, list[str]], parameters: dict[tuple[str, str], Schema]
    ) -> list[str]:
        problems = []
        for name, values in query.items():
            param = parameters.get(("query", name))
            if param is None:
                declared = sorted(n for (where, n) in parameters if where == "query")
                problems.append(
                    f"query parameter {name!r} is not declared (the server ignores it); "
                    f"declared: {', '.join(declared) or 'none'}"
                )
                continue
            schema = resolve(self.schema, param.get("schema", {}))
            if schema.get("type") == "array":
                item_schema = resolve(self.schema, schema.get("items", {}))
                checks = [(value, item_schema) for value in values]
            else:
                if len(values) > 1:
                    problems.append(f"query parameter {name!r} given {len(values)} times")
                checks = [(value, schema) for value in values]
            for value, value_schema in checks:
                problem = _check_scalar(value, value_schema)
                if problem:
                    problems.append(f"query parameter {name}={value!r}: {problem}")
        return problems

    def _check_body(self, op: Schema, body: Any) -> list[str]:
        request_body = resolve(self.schema, op.get("requestBody"))
        if request_body is None:
            if body is not None:
                return ["body sent to an operation that takes none"]
            return []
        schema = request_body.get("content", {}).get("application/json", {}).get("schema")
        if body is None:
            return ["body is required"] if request_body.get("required") else []
        if schema is None:
            return []
        validator = _validator(self.release, _node_key(schema), "write")
        problems = []
        for error in validator.iter_errors(body):
            if error.validator == "additionalProperties":
                problems += self._describe_extra(error)
            else:
                problems.append(_describe(error, "body"))
        return problems

    def _describe_extra(self, error: ValidationError) -> list[str]:
        """Name each undeclared property, and say when it is a read-only one."""
        declared = error.schema.get("properties", {})  # type: ignore[union-attr]
        component = error.schema.get("x-component", "")  # type: ignore[union-attr]
        target = self.schema["components"]["schemas"].get(_response_component(component), {})
        target_props = target.get("properties", {})
        where = _location(error, "body")
        problems = []
        for key in sorted(set(error.instance) - set(declared)):
            if target_props.get(key, {}).get("readOnly"):
                problems.append(f"{where}.{key}: read-only field must not be sent")
            else:
                problems.append(
                    f"{where}.{key}: unknown field (not in {component or 'the schema'}; "
                    "the server drops it silently)"
                )
        return problems


def _location(error: ValidationError, root: str) -> str:
    return ".".join([root, *(str(part) for part in error.absolute_path)])


def _describe(error: ValidationError, root: str) -> str:
    return f"{_location(error, root)}: {error.message}"


def _check_scalar(value: str, schema: Schema) -> str | None:
    """Check one query or path value (always a string on the wire) against its schema."""
    kind = schema.get("type", "string")
    try:
        if kind == "integer":
            int(value)
        elif kind == "number":
            float(value)
        elif kind == "boolean" and value not in ("true", "false"):
            return "not a boolean (use true or false)"
        elif schema.get("format") == "uuid":
            uuid.UUID(value)
    except ValueError:
        return f"not a valid {schema.get('format') or kind}"
    if "enum" in schema and value not in [str(item) for item in schema["enum"]]:
        return f"not one of {schema['enum']}"
    return None


@functools.cache
def validator_for(release: str) -> RequestValidator:
    """One shared validator per release series."""
    return RequestValidator(release)
