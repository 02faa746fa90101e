"""Support for running `provision validate` where the spec's secrets are not available.

A pre-commit hook or a CI lint job checks the spec's shape, not its secrets, and
usually has none of the variables that `!env` names. `env_placeholders` sets each
missing one to a placeholder for the duration of a check, then removes it again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml

PLACEHOLDER = "provision-validate-placeholder"


def env_names(path: Path) -> set[str]:
    """The variable names of every `!env` tag in a YAML file; empty if it cannot be read or parsed."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return set()  # the check itself reports the problem
    names: set[str] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if node.tag == "!env" and isinstance(node, yaml.ScalarNode):
            names.add(str(node.value).strip())
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(value for pair in node.value for value in pair)
    return names


@contextmanager
def env_placeholders(paths: Sequence[Path]) -> Iterator[list[str]]:
    """Set every unset `!env` variable of the files to a placeholder; yield their names."""
    missing = sorted({name for path in paths for name in env_names(path)} - set(os.environ))
    for name in missing:
        os.environ[name] = PLACEHOLDER
    try:
        yield missing
    finally:
        for name in missing:
            os.environ.pop(name, None)
