"""The NPM token scope mapping (blueprints/nginx-proxy-manager-token.py), run as authentik
runs it, against a stand-in for Nginx Proxy Manager's POST /api/tokens on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.expression_harness import Evaluation, FakeGroup, FakeUser, evaluate_scope_mapping

EXPRESSION = (Path(__file__).parent.parent / "blueprints" / "nginx-proxy-manager-token.py").read_text()

USERNAME = "npm-service@example.com"
PASSWORD = "s3cret-Pa55word"
TOKEN = "eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6WyJ1c2VyIl19.c2lnbmF0dXJl"
EXPIRES = "2026-12-05T10:00:00.000Z"
BAD_LOGIN = {"error": {"code": 400, "message": "Invalid email or password"}}

pytestmark = [pytest.mark.loopback, pytest.mark.enable_socket]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    delay: float = 0.0


def json_reply(status: int, payload: Any) -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode())


@dataclass
class StandIn:
    """The reply the stand-in NPM sends, and the requests it received."""

    url: str
    reply: Reply = field(default_factory=lambda: json_reply(200, {"token": TOKEN, "expires": EXPIRES}))
    received: list[dict[str, Any]] = field(default_factory=list)


def make_handler(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            stand_in.received.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(raw or b"null"),
                }
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

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def npm() -> Iterator[StandIn]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    stand_in = StandIn(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = make_handler(stand_in)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield stand_in
    server.shutdown()
    server.server_close()
    thread.join()


def npm_user(api_url: str, **extra: Any) -> FakeUser:
    attributes = {
        "nginx_api_url": api_url,
        "nginx_username": USERNAME,
        "nginx_password": PASSWORD,
        "X-Nginx-Token": None,
        **extra,
    }
    return FakeUser(username="alice", groups=[FakeGroup("npm-admins", attributes)])


def run(user: FakeUser) -> Evaluation:
    evaluation = evaluate_scope_mapping(EXPRESSION, user, mapping_name="NPM token")
    assert isinstance(evaluation.result, dict)
    log = evaluation.logger.text()
    assert PASSWORD not in log
    assert TOKEN not in log
    return evaluation


def warnings_of(evaluation: Evaluation) -> list[str]:
    return [r.event for r in evaluation.logger.records if r.level == "warning"]


def test_success_returns_the_header(npm: StandIn) -> None:
    evaluation = run(npm_user(npm.url))

    assert evaluation.result == {
        "ak_proxy": {"user_attributes": {"additionalHeaders": {"X-Nginx-Token": TOKEN}}}
    }
    assert warnings_of(evaluation) == []
    [sent] = npm.received
    assert sent["path"] == "/api/tokens"
    assert sent["body"] == {"identity": USERNAME, "secret": PASSWORD}
    assert sent["headers"]["Content-Type"] == "application/json"


@pytest.mark.parametrize("suffix", ["/", "/api", "/api/"])
def test_success_tolerates_api_url_endings(npm: StandIn, suffix: str) -> None:
    run(npm_user(npm.url + suffix))

    assert [r["path"] for r in npm.received] == ["/api/tokens"]


def test_user_attribute_overrides_group_attribute(npm: StandIn) -> None:
    user = npm_user("http://127.0.0.1:9")
    user.attributes["nginx_api_url"] = npm.url

    assert "ak_proxy" in run(user).result


def test_wrong_password_logs_npm_message(npm: StandIn) -> None:
    npm.reply = json_reply(400, BAD_LOGIN)

    evaluation = run(npm_user(npm.url))

    assert evaluation.result == {}
    [record] = [r for r in evaluation.logger.records if r.level == "warning"]
    assert record.event == "NPM rejected the credentials, check nginx_username and nginx_password"
    assert record.fields["status"] == 400
    assert record.fields["npm_message"] == "Invalid email or password"
    assert record.fields["npm_user"] == USERNAME


def test_timeout_returns_empty(npm: StandIn) -> None:
    npm.reply = json_reply(200, {"token": TOKEN, "expires": EXPIRES})
    npm.reply.delay = 0.7

    started = time.monotonic()
    evaluation = run(npm_user(npm.url, nginx_timeout=0.2))

    assert time.monotonic() - started < 0.6
    assert evaluation.result == {}
    assert warnings_of(evaluation) == ["NPM login timed out"]
    assert evaluation.logger.records[-1].fields["timeout"] == 0.2


def test_npm_down_returns_empty() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    evaluation = run(npm_user(f"http://127.0.0.1:{closed_port}"))

    assert evaluation.result == {}
    assert warnings_of(evaluation) == ["NPM login request failed"]
    assert evaluation.logger.records[-1].fields["error"] == "ConnectionError"


@pytest.mark.parametrize(
    ("reply", "warning"),
    [
        (
            Reply(status=200, body=b"<html>NPM</html>", content_type="text/html"),
            "NPM login response is not a JSON object",
        ),
        (
            json_reply(200, ["not", "an", "object"]),
            "NPM login response is not a JSON object",
        ),
        (json_reply(200, {"expires": EXPIRES}), "NPM login response has no token"),
        (
            json_reply(200, {"token": "", "expires": EXPIRES}),
            "NPM login response has no token",
        ),
        (
            json_reply(200, {"requires_2fa": True, "challenge_token": "challenge"}),
            "NPM login requires two-factor authentication, use a service user without it",
        ),
        (
            Reply(status=502, body=b"Bad Gateway", content_type="text/plain"),
            "NPM login returned an unexpected status, check nginx_api_url",
        ),
        (json_reply(302, {}), "NPM login returned an unexpected status, check nginx_api_url"),
    ],
    ids=["html", "json-list", "no-token", "empty-token", "two-factor", "502", "redirect"],
)
def test_odd_replies_return_empty(npm: StandIn, reply: Reply, warning: str) -> None:
    npm.reply = reply

    evaluation = run(npm_user(npm.url))

    assert evaluation.result == {}
    assert warnings_of(evaluation) == [warning]


@pytest.mark.parametrize("missing", ["nginx_api_url", "nginx_username", "nginx_password"])
def test_missing_attribute_skips_npm(npm: StandIn, missing: str) -> None:
    user = npm_user(npm.url)
    del user.groups[0].attributes[missing]

    evaluation = run(user)

    assert evaluation.result == {}
    assert warnings_of(evaluation) == ["nginx_* attribute missing or empty, so no NPM token header is sent"]
    assert evaluation.logger.records[-1].fields["missing"] == [missing]
    assert npm.received == []


def test_empty_attribute_counts_as_missing(npm: StandIn) -> None:
    evaluation = run(npm_user(npm.url, nginx_password="  "))

    assert evaluation.result == {}
    assert evaluation.logger.records[-1].fields["missing"] == ["nginx_password"]


def test_non_member_gets_no_header(npm: StandIn) -> None:
    evaluation = run(FakeUser(username="bob", groups=[FakeGroup("staff", {"theme": "dark"})]))

    assert evaluation.result == {}
    assert warnings_of(evaluation) == []
    assert npm.received == []


@pytest.mark.parametrize("value", ["soon", 0, -1, 61, "nan", "inf"])
def test_bad_timeout_falls_back_to_default(npm: StandIn, value: Any) -> None:
    evaluation = run(npm_user(npm.url, nginx_timeout=value))

    assert "ak_proxy" in evaluation.result
    assert evaluation.logger.records[0].fields["default"] == 5.0
