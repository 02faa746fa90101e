"""The requests transport adapter that hands every request to the fake, in process."""

from __future__ import annotations

import http
import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

if TYPE_CHECKING:
    from .fake import FakeAuthentik


class FakeAdapter(BaseAdapter):
    """Serves requests from a FakeAuthentik instead of a socket."""

    def __init__(self, fake: FakeAuthentik) -> None:
        super().__init__()
        self._fake = fake

    # One lock per fake, shared by every adapter on it: the real server serialises
    # concurrent writes in its database, and the fake's state is plain Python.

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        with self._fake.lock:
            status, body = self._fake.handle(request)  # may raise an injected exception
        return build_response(request, status, body)

    def close(self) -> None:
        """Nothing to release: there is no connection pool."""


def build_response(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
    content = b"" if body is None else json.dumps(body).encode()
    response = requests.Response()
    response.status_code = status
    response.reason = http.HTTPStatus(status).phrase
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    response.raw = io.BytesIO(content)
    headers = {"Content-Length": str(len(content))}
    if content:
        headers["Content-Type"] = "application/json"
    response.headers = CaseInsensitiveDict(headers)
    return response
