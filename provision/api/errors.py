"""Errors from authentik's API, chosen by HTTP status, each keeping the server's message."""

from __future__ import annotations

from typing import Any

from provision.errors import ProvisionError
from provision.secrets import redact


def _flatten_field_errors(body: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Turn DRF's `{"field": ["msg"], "nested": {"field": [...]}}` into (field, message) pairs."""
    if isinstance(body, dict):
        pairs = []
        for key, value in body.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            pairs += _flatten_field_errors(value, name)
        return pairs
    if isinstance(body, list):
        pairs = []
        for item in body:
            pairs += _flatten_field_errors(item, prefix)
        return pairs
    return [(prefix, str(body))]


class ApiError(ProvisionError):
    """authentik rejected a request or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        body: Any = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(redact(message), hint=hint)
        self.method = method
        self.path = path
        self.status = status
        self.body = body

    @property
    def server_message(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("detail"), str):
            return redact(self.body["detail"])
        if isinstance(self.body, dict | list):
            pairs = _flatten_field_errors(self.body)
            return redact("; ".join(f"{field}: {message}" if field else message for field, message in pairs))
        if self.body:
            return redact(str(self.body)[:300])
        return ""

    @property
    def field_errors(self) -> list[tuple[str, str]]:
        if isinstance(self.body, dict) and "detail" not in self.body:
            return [(field, redact(message)) for field, message in _flatten_field_errors(self.body)]
        return []


class ConnectionFailed(ApiError):
    """No HTTP answer: DNS, TCP, TLS or a timeout."""


class AuthenticationFailed(ApiError):
    """403 on the first request: the token is invalid, expired or lacks permissions."""


class PermissionDenied(ApiError):
    """403 on a later request: the token may read but not do this."""


class NotFound(ApiError):
    """404."""


class ValidationFailed(ApiError):
    """400: authentik rejected a value; `field_errors` lists them."""


class ServerError(ApiError):
    """5xx, or any other unexpected status."""
