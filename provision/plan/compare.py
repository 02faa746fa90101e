"""Value comparison that ignores what authentik or YAML change without meaning to.

Each function returns True when the spec's value and the live value mean the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

from provision.secrets import reveal

_DURATION_PART = re.compile(
    r"(weeks|days|hours|minutes|seconds|milliseconds|microseconds)\s*=\s*(\d+(?:\.\d+)?)"
)
_SECONDS = {
    "weeks": 604800.0,
    "days": 86400.0,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
    "milliseconds": 0.001,
    "microseconds": 0.000001,
}


def canonical_json(value: Any) -> str:
    """JSON text in which equal values read the same (sorted keys; `true` never equals `1`)."""
    return json.dumps(reveal(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_json(desired: Any, live: Any) -> bool:
    return canonical_json(desired) == canonical_json(live)


def normalize_expression(text: str) -> str:
    """Drop line-ending differences and trailing whitespace, which authentik and editors add freely."""
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def same_expression(desired: Any, live: Any) -> bool:
    return normalize_expression(reveal(desired)) == normalize_expression(live or "")


def duration_seconds(text: str) -> float | None:
    parts = _DURATION_PART.findall(text or "")
    if not parts:
        return None
    return sum(_SECONDS[unit] * float(amount) for unit, amount in parts)


def same_duration(desired: Any, live: Any) -> bool:
    """`hours=24` and `days=1` are the same token lifetime."""
    wanted, current = duration_seconds(str(desired)), duration_seconds(str(live or ""))
    if wanted is None or current is None:
        return str(desired) == str(live)
    return abs(wanted - current) < 1e-6


def same_set(desired: list[Any], live: list[Any]) -> bool:
    return {canonical_json(item) for item in desired} == {canonical_json(item) for item in live}


def missing_items(desired: list[Any], live: list[Any]) -> list[Any]:
    present = {canonical_json(item) for item in live}
    return [item for item in desired if canonical_json(item) not in present]
