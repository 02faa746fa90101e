"""Turn a spec file into a checked `Spec`, or a `SpecError` listing every problem with its location."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from provision.errors import SpecError, SpecProblem
from provision.secrets import Secret
from provision.spec.bridges import Bridge, expand_bridges
from provision.spec.loader import (
    LoadedDocument,
    YamlPath,
    load_document,
    read_bounded_text,
    read_error_reason,
)
from provision.spec.models import Spec

_TYPE_NAMES = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


@dataclass(frozen=True)
class SpecFile:
    """A checked spec, the document it came from, and the text of each scope mapping's expression."""

    path: Path
    spec: Spec
    document: LoadedDocument
    expressions: dict[str, str | Secret] = field(default_factory=dict)
    # Token bridges, expanded into the objects above; see provision.spec.bridges.
    bridges: tuple[Bridge, ...] = ()
    origins: dict[YamlPath, YamlPath] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def problem(self, path: YamlPath, message: str, hint: str | None = None) -> SpecProblem:
        # A generated object has no lines of its own: point at the token bridge that made it.
        origin = self.origins.get(tuple(path[:2]))
        return self.document.problem(origin or path, message, hint)

    def locate(self, section: str, name: str, *rest: str | int) -> YamlPath:
        """The YAML path of the object called `name` in `section` (by slug for applications)."""
        key = "slug" if section == "applications" else "name"
        for index, item in enumerate(getattr(self.spec, section)):
            if getattr(item, key) == name:
                return (section, index, *rest)
        return (section,)


def load_spec(path: Path | str) -> SpecFile:
    """Load, parse and check a spec file; raise `SpecError` naming every problem found."""
    spec_path = Path(path)
    document = load_document(spec_path)
    expansion = expand_bridges(_validate_model(document), document)
    spec = expansion.spec
    expressions = _read_expressions(spec, document)
    problems = list(_duplicate_names(spec, document))
    problems += _parent_cycles(spec, document)
    if problems:
        raise SpecError(problems)
    return SpecFile(
        path=spec_path,
        spec=spec,
        document=document,
        expressions=expressions,
        bridges=expansion.bridges,
        origins=expansion.origins,
        warnings=expansion.warnings,
    )


def _validate_model(document: LoadedDocument) -> Spec:
    try:
        return Spec.model_validate(document.data)
    except ValidationError as error:
        raise SpecError(_problems_from_pydantic(error, document)) from None


def _problems_from_pydantic(error: ValidationError, document: LoadedDocument) -> list[SpecProblem]:
    problems: dict[YamlPath, SpecProblem] = {}
    for detail in error.errors(include_url=False):
        path = _data_path(detail["loc"], document.data)
        if path in problems:
            continue  # one message per location: the union members repeat the same complaint
        message, hint = _describe(detail, path, document.data)
        problems[path] = document.problem(path, message, hint)
    return sorted(problems.values(), key=lambda problem: (problem.line or 0, problem.column or 0))


def _data_path(loc: Iterable[int | str], data: Any) -> YamlPath:
    """Cut pydantic's error location down to the part that exists in the YAML data."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and part in current:  # noqa: SIM114 (mypy needs the int check apart)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and not path_is_union_tag(part):
            path.append(part)  # a missing key: point at it, its position falls back to the parent
            break
        else:
            break
        path.append(part)
    return tuple(path)


def path_is_union_tag(part: str) -> bool:
    return part in {"str", "bool", "int", "list[str]"} or part.startswith(
        ("is-instance[", "literal[", "function-")
    )


def _describe(detail: Any, path: YamlPath, data: Any) -> tuple[str, str | None]:
    kind = detail["type"]
    given = _value_at(data, path)
    if kind == "missing":
        field_name = detail["loc"][-1]
        return f"required field {field_name!r} is missing", f"Add `{field_name}: ...` here."
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _allowed_keys(path[:-1], data)
        suggestion = difflib.get_close_matches(key, allowed, n=1)
        hint = f"Did you mean {suggestion[0]!r}? " if suggestion else ""
        return f"unknown key {key!r}", hint + f"Valid keys here: {', '.join(allowed)}."
    if kind in _TYPE_NAMES or kind == "is_instance_of":
        expected = _TYPE_NAMES.get(kind, "a string")
        return f"expected {expected}, got {_type_name(given)}", None
    if kind == "literal_error":
        return f"invalid value {given!r}: {detail['msg'].lower()}", None
    if kind == "value_error":
        return str(detail["msg"]).removeprefix("Value error, "), None
    if kind == "string_too_short":
        return "must not be empty", None
    return str(detail["msg"]), None


def _value_at(data: Any, path: YamlPath) -> Any:
    current = data
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Secret):
        return "a secret string"
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }
    return names.get(type(value), type(value).__name__)


def _allowed_keys(parent: YamlPath, data: Any) -> list[str]:
    model: type[BaseModel] = Spec
    for part in parent:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
    return list(model.model_fields)


def _read_expressions(spec: Spec, document: LoadedDocument) -> dict[str, str | Secret]:
    expressions: dict[str, str | Secret] = {}
    problems = []
    for index, mapping in enumerate(spec.scope_mappings):
        if mapping.expression is not None:
            expressions[mapping.name] = mapping.expression
            continue
        assert mapping.expression_file is not None
        target = document.file.parent / mapping.expression_file
        try:
            expressions[mapping.name] = read_bounded_text(target)
        except FileNotFoundError:
            problems.append(
                document.problem(
                    ("scope_mappings", index, "expression_file"),
                    f"expression file {mapping.expression_file} not found (looked at {target})",
                    "The path is relative to the spec file.",
                )
            )
        except (OSError, ValueError) as error:
            problems.append(
                document.problem(
                    ("scope_mappings", index, "expression_file"),
                    f"cannot read expression file {mapping.expression_file}: {read_error_reason(error)}",
                )
            )
    if problems:
        raise SpecError(problems)
    return expressions


def _duplicate_names(spec: Spec, document: LoadedDocument) -> Iterable[SpecProblem]:
    sections: list[tuple[str, str, list[Any]]] = [
        ("groups", "name", list(spec.groups)),
        ("scope_mappings", "name", list(spec.scope_mappings)),
        ("proxy_providers", "name", list(spec.proxy_providers)),
        ("applications", "slug", list(spec.applications)),
        ("outposts", "name", list(spec.outposts)),
    ]
    for section, key, items in sections:
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            value = getattr(item, key)
            if value in seen:
                first_line, _ = document.position((section, seen[value], key))
                yield document.problem(
                    (section, index, key),
                    f"duplicate {key} {value!r}",
                    f"It is already used at line {first_line}; each {key} may appear once in {section}.",
                )
            else:
                seen[value] = index


def _parent_cycles(spec: Spec, document: LoadedDocument) -> list[SpecProblem]:
    parents = {group.name: list(group.parents or []) for group in spec.groups}
    problems = []
    for index, group in enumerate(spec.groups):
        stack = list(parents[group.name])
        seen: set[str] = set()
        while stack:
            name = stack.pop()
            if name == group.name:
                problems.append(
                    document.problem(
                        ("groups", index, "parents"),
                        f"group {group.name!r} is its own ancestor",
                        "Remove one of the parents that closes the cycle.",
                    )
                )
                break
            if name in seen:
                continue
            seen.add(name)
            stack.extend(parents.get(name, []))
    return problems
