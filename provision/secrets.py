"""Secret values from the spec, and redaction of every known secret from text.

Values that come from `!env` or `!file` are wrapped in `Secret`, which never
renders its content through `str`, `repr` or formatting. The process-wide
registry below also remembers each revealed secret (and the API token), so the
output and logging layers can scrub them from any text as a last line of defence.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "(sensitive)"

# Secrets shorter than this are not scrubbed from free text at all: replacing
# every "1" or "ab" in the output would corrupt it without protecting anything.
_MIN_REDACTED_LENGTH = 4
# Secrets shorter than this are scrubbed only where they stand alone (between
# spaces, quotes or brackets), so that a password such as "admin" does not turn
# "admins" into "***s". Longer ones are scrubbed wherever they occur.
_MIN_SUBSTRING_LENGTH = 8
_STANDALONE_EDGE = r"""\s"'`,:;()\[\]{}<>="""

_PASSWORD_LIKE = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential", re.I)


class _Registry:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if len(value) < _MIN_REDACTED_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._pattern = None

    def redact(self, text: str) -> str:
        with self._lock:
            if not self._values:
                return text
            if self._pattern is None:
                self._pattern = self._compile()
            pattern = self._pattern
        return pattern.sub("***", text)

    def _compile(self) -> re.Pattern[str]:
        alternatives = []
        for value in sorted(self._values, key=len, reverse=True):
            if len(value) >= _MIN_SUBSTRING_LENGTH:
                alternatives.append(re.escape(value))
            else:
                alternatives.append(rf"(?<![^{_STANDALONE_EDGE}]){re.escape(value)}(?![^{_STANDALONE_EDGE}])")
        return re.compile("|".join(alternatives))

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None


_registry = _Registry()


def register_secret(value: str) -> None:
    """Remember a secret so that `redact` scrubs it from any text."""
    _registry.add(value)


def redact(text: str) -> str:
    """Replace every registered secret in `text` with `***`."""
    return _registry.redact(text)


def forget_all_secrets() -> None:
    """Empty the registry (tests use this between cases)."""
    _registry.clear()


def is_password_like(name: str) -> bool:
    """Tell whether an attribute or field name suggests that its value is a secret."""
    return bool(_PASSWORD_LIKE.search(name))


class Secret:
    """A value from `!env` or `!file`: compared and sent as its content, shown as a mask."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.source})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK


def reveal(value: Any) -> Any:
    """Return `value` with every nested `Secret` replaced by its content (for request bodies)."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def contains_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_secret(item) for item in value)
    return False


class RedactingFilter(logging.Filter):
    """Scrub registered secrets from every log record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        return True
