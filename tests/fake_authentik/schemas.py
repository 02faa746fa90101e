"""Finding, loading and caching authentik's OpenAPI schemas, and comparing releases."""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_DIR_ENV = "AUTHENTIK_API_SCHEMAS"

#: Every release series with a schema file, oldest first.
SCHEMA_RELEASES: list[str] = [
    "2023.10",
    "2024.2",
    "2024.4",
    "2024.6",
    "2024.8",
    "2024.10",
    "2024.12",
    "2025.2",
    "2025.4",
    "2025.6",
    "2025.8",
    "2025.10",
    "2025.12",
    "2026.2",
    "2026.5-rc",
]

_VERSION = re.compile(r"^(\d{4})\.(\d+)(?:\.(\d+))?(?:-rc(\d+)?)?$")

Schema = dict[str, Any]


@dataclass(frozen=True, order=True)
class Release:
    """An authentik version such as 2025.12.4 or 2026.5.0-rc1, ordered by series then patch."""

    year: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> Release:
        match = _VERSION.match(text)
        if not match:
            raise ValueError(f"not an authentik version: {text!r}")
        year, minor, patch, _rc = match.groups()
        return cls(int(year), int(minor), int(patch or 0))

    @property
    def series(self) -> tuple[int, int]:
        return (self.year, self.minor)

    def at_least(self, series: str) -> bool:
        """True from the release series ``series`` (e.g. "2024.10") on, whatever the patch."""
        other = Release.parse(series)
        return self.series >= other.series

    def before(self, series: str) -> bool:
        return not self.at_least(series)


def schema_dir() -> Path:
    """The folder with ``schema-<release>.json``: $AUTHENTIK_API_SCHEMAS, else ../shared/authentik-api."""
    from_env = os.environ.get(SCHEMA_DIR_ENV)
    repo_root = Path(__file__).resolve().parents[2]
    beside_repo = repo_root.parent / "shared" / "authentik-api"
    candidates = [Path(from_env)] if from_env else []
    candidates.append(beside_repo)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"authentik OpenAPI schemas not found: set ${SCHEMA_DIR_ENV} "
        f"(now {from_env or 'unset'}) or provide {beside_repo}"
    )


@functools.cache
def load_schema(release: str) -> Schema:
    """The parsed OpenAPI document of a release series, loaded once per process."""
    if release not in SCHEMA_RELEASES:
        raise ValueError(f"no schema for release {release!r}; known: {', '.join(SCHEMA_RELEASES)}")
    path = schema_dir() / f"schema-{release}.json"
    with path.open(encoding="utf-8") as handle:
        schema: Schema = json.load(handle)
    return schema


def resolve(schema: Schema, node: Any) -> Any:
    """Follow ``$ref`` pointers (local ones only) until a concrete node is reached."""
    while isinstance(node, dict) and "$ref" in node:
        ref: str = node["$ref"]
        target: Any = schema
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
