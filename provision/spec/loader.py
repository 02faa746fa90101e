"""Read a spec file into plain Python values, remembering where each value came from.

PyYAML's composer gives a node tree with line numbers; we build the values from
that tree ourselves so that every value's YAML path maps to its line, duplicate
keys are rejected (PyYAML keeps the last one silently), `!env` and `!file`
become `Secret`s, and alias expansion is bounded (a "billion laughs" document
is rejected after a fixed number of values instead of filling memory).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provision.errors import SpecError, SpecProblem
from provision.secrets import Secret

YamlPath = tuple[str | int, ...]

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_VALUES = 200_000
MAX_DEPTH = 64


@dataclass
class LoadedDocument:
    """A spec file's values and the source position of each YAML path."""

    file: Path
    data: Any
    positions: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)

    def problem(self, path: YamlPath, message: str, hint: str | None = None) -> SpecProblem:
        """Build a problem located at `path`, or at its nearest located ancestor."""
        line, column = self.position(path)
        return SpecProblem(
            message,
            file=str(self.file),
            line=line,
            column=column,
            path=format_path(path),
            hint=hint,
        )

    def position(self, path: YamlPath) -> tuple[int | None, int | None]:
        probe = tuple(path)
        while probe:
            if probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), (None, None))


def format_path(path: YamlPath) -> str:
    """Render a YAML path as `groups[0].attributes.nginx_password`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text


class _Builder:
    def __init__(self, file: Path, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.positions: dict[YamlPath, tuple[int, int]] = {}
        self.values_built = 0

    def problem(self, node: yaml.Node, path: YamlPath, message: str, hint: str | None = None) -> SpecError:
        mark = node.start_mark
        return SpecError(
            [
                SpecProblem(
                    message,
                    file=str(self.file),
                    line=mark.line + 1,
                    column=mark.column + 1,
                    path=format_path(path),
                    hint=hint,
                )
            ]
        )

    def build(self, node: yaml.Node, path: YamlPath, depth: int = 0) -> Any:
        self.values_built += 1
        if self.values_built > MAX_VALUES:
            raise self.problem(
                node,
                path,
                f"the spec expands to more than {MAX_VALUES} values",
                "Check for YAML aliases (*name) that repeat large anchors.",
            )
        if depth > MAX_DEPTH:
            raise self.problem(node, path, f"values are nested more than {MAX_DEPTH} levels deep")
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))

        if node.tag == "!env":
            return self._env(node, path)
        if node.tag == "!file":
            return self._file(node, path)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        if node.tag.startswith("!"):
            raise self.problem(
                node,
                path,
                f"unknown tag {node.tag}",
                "Supported tags are !env NAME and !file PATH.",
            )
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: YamlPath, depth: int) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise self.problem(key_node, path, f"mapping key {key!r} is not a string", "Quote the key.")
            if key in result:
                raise self.problem(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r}",
                    "Each key may appear once per mapping; remove or merge the repeated one.",
                )
            # Point at the key rather than its value: "unknown key" and
            # "duplicate key" are about the key, and so is a missing value.
            self.positions[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def _scalar_text(self, node: yaml.Node, path: YamlPath, tag: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise self.problem(node, path, f"{tag} needs a name", f"Write it as `{tag} VALUE`.")
        return str(node.value).strip()

    def _env(self, node: yaml.Node, path: YamlPath) -> Secret:
        name = self._scalar_text(node, path, "!env")
        value = os.environ.get(name)
        if value is None:
            raise self.problem(
                node,
                path,
                f"environment variable {name} is not set",
                f"Export {name} before running provision, or set the value in the spec.",
            )
        return Secret(value, source=f"env:{name}")

    def _file(self, node: yaml.Node, path: YamlPath) -> Secret:
        name = self._scalar_text(node, path, "!file")
        target = Path(name).expanduser()
        if not target.is_absolute():
            target = self.file.parent / target
        try:
            content = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise self.problem(
                node,
                path,
                f"file {name} not found (looked at {target})",
                "Paths are relative to the spec file.",
            ) from None
        except (OSError, UnicodeDecodeError) as error:
            raise self.problem(node, path, f"cannot read file {name}: {error.__class__.__name__}") from None
        # Secret files written by `echo` or editors end with a newline that is not
        # part of the secret; strip exactly one.
        if content.endswith("\r\n"):
            content = content[:-2]
        elif content.endswith("\n"):
            content = content[:-1]
        return Secret(content, source=f"file:{name}")


def load_document(file: Path) -> LoadedDocument:
    """Parse one YAML spec file; raise `SpecError` for anything that is not a valid document."""
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        raise SpecError([SpecProblem("spec file not found", file=str(file))]) from None
    except OSError as error:
        raise SpecError([SpecProblem(f"cannot read spec file: {error.strerror}", file=str(file))]) from None
    if size > MAX_FILE_BYTES:
        raise SpecError(
            [
                SpecProblem(
                    f"spec file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                    file=str(file),
                )
            ]
        )
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(
            [SpecProblem(f"spec file is not valid UTF-8 (byte {error.start})", file=str(file))]
        ) from None
    except OSError as error:
        raise SpecError([SpecProblem(f"cannot read spec file: {error.strerror}", file=str(file))]) from None
    return parse_document(text, file)


def parse_document(text: str, file: Path) -> LoadedDocument:
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            raise SpecError(
                [
                    SpecProblem(
                        f"invalid YAML: {error.problem or error.context}",
                        file=str(file),
                        line=mark.line + 1 if mark else None,
                        column=mark.column + 1 if mark else None,
                    )
                ]
            ) from None
        except yaml.YAMLError as error:
            raise SpecError([SpecProblem(f"invalid YAML: {error}", file=str(file))]) from None
        except RecursionError:
            raise SpecError(
                [SpecProblem(f"values are nested more than {MAX_DEPTH} levels deep", file=str(file))]
            ) from None
        if root is None:
            raise SpecError(
                [SpecProblem("spec file is empty", file=str(file), hint="Start it with `version: 1`.")]
            )
        builder = _Builder(file, loader)
        try:
            data = builder.build(root, ())
        except yaml.constructor.ConstructorError as error:
            mark = error.problem_mark
            raise SpecError(
                [
                    SpecProblem(
                        f"invalid YAML value: {error.problem}",
                        file=str(file),
                        line=mark.line + 1 if mark else None,
                        column=mark.column + 1 if mark else None,
                    )
                ]
            ) from None
        except RecursionError:
            raise SpecError(
                [SpecProblem(f"values are nested more than {MAX_DEPTH} levels deep", file=str(file))]
            ) from None
    finally:
        loader.dispose()
    if not isinstance(data, Mapping):
        raise SpecError(
            [
                SpecProblem(
                    "the top level of a spec must be a mapping",
                    file=str(file),
                    line=1,
                    hint="Start it with `version: 1`.",
                )
            ]
        )
    return LoadedDocument(file=file, data=data, positions=builder.positions)
