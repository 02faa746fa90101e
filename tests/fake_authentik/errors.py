"""Error responses of authentik's API (DRF's default handler), as an exception that the
handlers raise and the dispatcher turns into a response."""

from __future__ import annotations

from typing import Any

from .schemas import Release


class ApiError(Exception):
    """An HTTP error response: the status code and the JSON body the real server sends."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def invalid(errors: dict[str, Any]) -> ApiError:
    """400 with DRF's ``{"field": ["message", ...]}`` shape."""
    return ApiError(400, {k: v if isinstance(v, list) else [v] for k, v in errors.items()})


def non_field(message: str) -> ApiError:
    return invalid({"non_field_errors": [message]})


def not_found(release: Release, model: str) -> ApiError:
    """404; the text changed with DRF 3.16 in authentik 2025.4 (compare codes, not text)."""
    if release.at_least("2025.4"):
        return ApiError(404, {"detail": f"No {model} matches the given query."})
    return ApiError(404, {"detail": "Not found."})


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, {"detail": f'Method "{method.upper()}" not allowed.'})


def does_not_exist(value: Any) -> str:
    """DRF's PrimaryKeyRelatedField message for a reference to a missing object."""
    return f'Invalid pk "{value}" - object does not exist.'
