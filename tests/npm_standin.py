"""A stand-in for Nginx Proxy Manager's `POST /api/tokens` on loopback.

It answers like NPM 2.x: 200 `{"token", "expires"}` for the expected
credentials, 400 `{"error": {"code": 400, "message": "Invalid email or password"}}`
otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STANDIN_TOKEN = "standin-npm-jwt.eyJzdWIiOiJucG0ifQ.signature"
STANDIN_EXPIRES = "2030-01-01T00:00:00.000Z"


class NpmStandin:
    """What the stand-in accepts, and the logins it received."""

    def __init__(self, identity: str, secret: str) -> None:
        self.identity = identity
        self.secret = secret
        self.logins: list[dict[str, Any]] = []


def _handler(state: NpmStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            state.logins.append(body)
            if self.path != "/api/tokens":
                self._answer(404, {"error": {"code": 404, "message": "Not Found"}})
            elif body.get("identity") == state.identity and body.get("secret") == state.secret:
                self._answer(200, {"token": STANDIN_TOKEN, "expires": STANDIN_EXPIRES})
            else:
                self._answer(400, {"error": {"code": 400, "message": "Invalid email or password"}})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def npm_standin(identity: str, secret: str, port: int) -> Iterator[NpmStandin]:
    """Serve the stand-in on 127.0.0.1:`port` for the duration of the block."""
    state = NpmStandin(identity, secret)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
