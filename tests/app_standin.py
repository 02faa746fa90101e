"""A stand-in for an app's login API on 127.0.0.1: it answers every request with one set reply."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    delay: float = 0.0


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode())


@dataclass
class AppStandIn:
    """The reply the stand-in sends, and the requests it received."""

    url: str
    reply: Reply = field(default_factory=Reply)
    received: list[dict[str, Any]] = field(default_factory=list)


def _handler(stand_in: AppStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            stand_in.received.append(
                {"method": self.command, "path": self.path, "body": json.loads(raw or b"null")}
            )
            reply = stand_in.reply
            time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout case)

        do_POST = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def app_standin() -> Iterator[AppStandIn]:
    """Serve a stand-in on 127.0.0.1 at an ephemeral port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    stand_in = AppStandIn(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(stand_in)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
