"""Read a spec file into plain Python values, remembering where each value came from.

PyYAML's composer gives a node tree with line numbers; we build the values from
that tree ourselves so that every value's YAML path maps to its line, duplicate
keys are rejected (PyYAML keeps the last one silently), `!env` and `!file`
become `Secret`s, and alias expansion is bounded (a "billion laughs" document
is rejected after a fixed number of values instead of filling memory).
"""

from __future__ import annotations

import errno
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

_MAPPING_TAG = yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG
_SEQUENCE_TAG = yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG
_STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
_MERGE_TAG = _STANDARD_TAG_PREFIX + "merge"
_VALUE_TAG = _STANDARD_TAG_PREFIX + "value"


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


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


def read_bounded_text(path: Path) -> str:
    """Read a UTF-8 file that the spec names; refuse one larger than MAX_FILE_BYTES (or endless, like /dev/zero)."""
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return data.decode("utf-8")


def read_error_reason(error: OSError | ValueError) -> str:
    """Why `read_bounded_text` failed, in words that never quote the file's content."""
    if isinstance(error, UnicodeDecodeError):
        return f"not valid UTF-8 (byte {error.start})"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return str(error)  # a NUL in the path: "embedded null byte"


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
        if isinstance(node, yaml.MappingNode) and node.tag == _MAPPING_TAG:
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQUENCE_TAG:
            return [self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        if node.tag.startswith("!") or not isinstance(node, yaml.ScalarNode):
            raise self.problem(
                node,
                path,
                f"unknown tag {node.tag.replace(_STANDARD_TAG_PREFIX, '!!')}",
                "Supported tags are !env NAME and !file PATH.",
            )
        return self._scalar(node, path)

    def _scalar(self, node: yaml.ScalarNode, path: YamlPath) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as error:
            # PyYAML lets these through: a date such as 2024-13-45, or an integer
            # longer than Python converts (sys.get_int_max_str_digits()).
            raise self.problem(
                node,
                path,
                f"invalid value {_shorten(node.value)}: {_shorten(str(error), 120)}",
                "Quote it to keep it as text.",
            ) from None

    def _mapping(self, node: yaml.MappingNode, path: YamlPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key in result:
                raise self.problem(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r}",
                    "Each key may appear once per mapping; remove or merge the repeated one.",
                )
            # Point at the key rather than its value: "unknown key" and
            # "duplicate key" are about the key, and so is a missing value.
            self.positions.setdefault(
                (*path, key), (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            )
            result[key] = self.build(value_node, (*path, key), depth + 1)
        # YAML's merge key rule: a key written in the mapping overrides a merged one,
        # and an earlier merged mapping overrides a later one. Merged values are built
        # like any other, so they count towards MAX_VALUES and MAX_DEPTH.
        for value_node in merges:
            for source in self._merge_sources(value_node, path):
                for key, value in self._mapping(source, path, depth + 1).items():
                    result.setdefault(key, value)
        return result

    def _merge_sources(self, node: yaml.Node, path: YamlPath) -> list[yaml.MappingNode]:
        """The mappings a `<<` key merges: one mapping, or a list of them."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not all(isinstance(source, yaml.MappingNode) for source in sources):
            raise self.problem(
                node,
                path,
                "a merge key `<<` needs a mapping or a list of mappings",
                "Write it as `<<: *anchor`, where the anchor names a mapping.",
            )
        return list(sources)

    def _key(self, node: yaml.Node, path: YamlPath) -> str:
        # A collection is refused before it is built, so an alias to a large anchor costs nothing.
        if not isinstance(node, yaml.ScalarNode):
            kind = "mapping" if isinstance(node, yaml.MappingNode) else "list"
            raise self.problem(node, path, f"a {kind} cannot be a mapping key", "Keys are strings.")
        if node.tag == _VALUE_TAG:
            return str(node.value)  # a plain `=` is a string key, as in PyYAML's own constructor
        if node.tag.startswith("!"):
            raise self.problem(
                node, path, f"a mapping key cannot have the tag {node.tag}", "Keys are plain strings."
            )
        key = self._scalar(node, path)
        if not isinstance(key, str):
            raise self.problem(
                node, path, f"mapping key {_shorten(repr(key))} is not a string", "Quote the key."
            )
        return key

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
        target = Path(name)
        try:
            target = target.expanduser()
        except RuntimeError:  # `~user` with no such user
            raise self.problem(node, path, f"cannot find the home directory in {name}") from None
        if not target.is_absolute():
            target = self.file.parent / target
        try:
            content = read_bounded_text(target)
        except FileNotFoundError:
            raise self.problem(
                node,
                path,
                f"file {name} not found (looked at {target})",
                "Paths are relative to the spec file.",
            ) from None
        except (OSError, ValueError) as error:
            raise self.problem(node, path, f"cannot read file {name}: {read_error_reason(error)}") from None
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


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, stopping at MAX_VALUES nodes while it composes the document.

    Each node costs several hundred bytes and some microseconds in pure Python, so a
    large flat document would otherwise fill memory before the builder counts anything.
    """

    def __init__(self, text: str, file: Path) -> None:
        super().__init__(text)
        self.file = file
        self.nodes_composed = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        # The reader is a little ahead of the parser; its line is close enough for these errors.
        if self.depth > MAX_DEPTH:
            raise SpecError([_too_deep(self.file, self.get_mark().line + 1)])
        if not self.check_event(yaml.AliasEvent):  # an alias reuses a node already counted
            self.nodes_composed += 1
            if self.nodes_composed > MAX_VALUES:
                raise _too_many_values(self.file, self.get_mark().line + 1, "Split it into smaller specs.")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _too_deep(file: Path, line: int | None = None) -> SpecProblem:
    return SpecProblem(f"values are nested more than {MAX_DEPTH} levels deep", file=str(file), line=line)


def _too_many_values(file: Path, line: int | None, hint: str) -> SpecError:
    return SpecError(
        [
            SpecProblem(
                f"the spec expands to more than {MAX_VALUES} values", file=str(file), line=line, hint=hint
            )
        ]
    )


def _largest_expansion(root: yaml.Node) -> tuple[int, yaml.Node]:
    """How many values `root` expands to with every alias followed, and the innermost
    node that alone expands to more than MAX_VALUES (or `root`).

    Aliases share nodes, so sizes are memoized per node: a "billion laughs" document
    is measured in a few steps instead of being built. A node that contains itself
    counts once here; the builder reports it as nested too deeply.
    """
    sizes: dict[int, int] = {}
    culprit = root

    def size(node: yaml.Node) -> int:
        nonlocal culprit
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(value) for _, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        else:
            total = 1
        if total > MAX_VALUES and sizes.get(id(culprit), 0) <= MAX_VALUES:
            culprit = node
        sizes[id(node)] = total
        return total

    return size(root), culprit


def parse_document(text: str, file: Path) -> LoadedDocument:
    try:
        # The reader checks every character up front: NUL and other control characters fail here.
        loader = _Loader(text, file)
    except yaml.reader.ReaderError as error:
        code = error.character if isinstance(error.character, int) else ord(error.character)
        raise SpecError(
            [
                SpecProblem(
                    f"invalid YAML: the character U+{code:04X} is not allowed",
                    file=str(file),
                    line=text.count("\n", 0, error.position) + 1,
                    hint='Remove it, or write it as an escape such as "\\u0007" in a double-quoted string.',
                )
            ]
        ) from None
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
            raise SpecError([_too_deep(file)]) from None
        except (ValueError, OverflowError):
            # PyYAML's scanner passes an escape such as "\U99999999" to chr() unchecked.
            raise SpecError(
                [
                    SpecProblem(
                        "invalid YAML: an escape in a double-quoted string is not a Unicode character",
                        file=str(file),
                        line=loader.get_mark().line + 1,
                        hint="Unicode escapes go up to \\U0010FFFF.",
                    )
                ]
            ) from None
        if root is None:
            raise SpecError(
                [SpecProblem("spec file is empty", file=str(file), hint="Start it with `version: 1`.")]
            )
        total, culprit = _largest_expansion(root)
        if total > MAX_VALUES:
            raise _too_many_values(
                file, culprit.start_mark.line + 1, "Check for YAML aliases (*name) that repeat large anchors."
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
            raise SpecError([_too_deep(file)]) from None
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
