"""Live runs against a real authentik, and their recording as scrubbed vcrpy cassettes.

Modes, chosen by the environment:
- AUTHENTIK_URL and AUTHENTIK_TOKEN set: the live tests run against that server.
  With PROVISION_RECORD=1 as well, each live test also records its cassette,
  scrubbed, under cassettes/<release>/.
- Otherwise the live tests are skipped, and the replay tests play the cassettes
  back with record mode `none`, so nothing leaves the process.

Every request sent in either mode is validated against the OpenAPI schema of the
server's release.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import vcr
from requests.adapters import HTTPAdapter

from tests.fake_authentik import SCHEMA_RELEASES, RequestValidator
from tests.helpers import REPO

CASSETTES = REPO / "cassettes"
RECORD_ENV = "PROVISION_RECORD"

# Secrets used by the live tests. At record time they are replaced by these
# placeholders in every cassette; at replay time the placeholders are the values,
# so the replayed run sends exactly what was recorded.
SECRET_ENV = {
    "NPM_USERNAME": "scrubbed-npm-username@example.com",
    "NPM_PASSWORD": "scrubbed-npm-password",
}
LIVE_CANARY_PASSWORD = "live-canary-npm-password-8c2f41"
LIVE_CANARY_USERNAME = "live-canary-npm-user@example.com"
KEPT_RESPONSE_HEADERS = {"content-type"}


def live_settings() -> tuple[str, str] | None:
    url, token = os.environ.get("AUTHENTIK_URL"), os.environ.get("AUTHENTIK_TOKEN")
    return (url, token) if url and token else None


def recording() -> bool:
    return os.environ.get(RECORD_ENV) == "1"


def schema_release(version: str) -> str:
    """The schema file closest to a server version: same series, else the newest older one."""
    year, month = (int(part) for part in version.split(".")[:2])
    candidates = [
        release
        for release in SCHEMA_RELEASES
        if release != "2026.5-rc" and tuple(int(part) for part in release.split(".")) <= (year, month)
    ]
    if (year, month) >= (2026, 5):
        return "2026.5-rc"
    return candidates[-1]


@dataclass
class ValidatingAdapter(HTTPAdapter):
    """Validates each request against the release's OpenAPI schema, then sends it."""

    validator: RequestValidator | None = None
    violations: list[str] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        method = (request.method or "GET").upper()
        self.sent.append((method, parts.path))
        if self.validator is not None and parts.path.startswith("/api/v3/"):
            body = json.loads(request.body) if request.body else None
            query = parse_qs(parts.query, keep_blank_values=True)
            for problem in self.validator.validate(method, parts.path, query, body):
                self.violations.append(f"{method} {parts.path}: {problem}")
        return super().send(request, *args, **kwargs)

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.sent if method in {"POST", "PUT", "PATCH", "DELETE"}]


def _scrub_foreign(value: Any, own_prefix: str) -> Any:
    """Blank the attributes and expressions of objects the test did not create.

    List responses carry every object on the instance, and a real instance's
    group attributes or mapping expressions may hold its owner's secrets.
    """
    if isinstance(value, list):
        return [_scrub_foreign(item, own_prefix) for item in value]
    if not isinstance(value, dict):
        return value
    label = str(value.get("name") or value.get("username") or value.get("slug") or "")
    own = label.startswith(own_prefix)
    scrubbed = {key: _scrub_foreign(item, own_prefix) for key, item in value.items()}
    if not own and isinstance(scrubbed.get("attributes"), dict):
        scrubbed["attributes"] = {}
    if not own and isinstance(scrubbed.get("expression"), str):
        scrubbed["expression"] = "# not recorded: not created by the test"
    return scrubbed


def _scrub_text(text: str, secrets: dict[str, str]) -> str:
    for value, placeholder in secrets.items():
        if value:
            text = text.replace(value, placeholder)
            # JSON bodies escape some characters; scrub the escaped form too.
            text = text.replace(json.dumps(value)[1:-1], placeholder)
    return text


def scrubbing_vcr(cassette_dir: Path, secrets: dict[str, str], own_prefix: str, *, record: bool) -> vcr.VCR:
    """A VCR that strips credentials and replaces every secret value before a cassette is written."""

    def scrub_request(request: Any) -> Any:
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            request.body = _scrub_text(body, secrets)
        return request

    def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
        response["headers"] = {
            name: value
            for name, value in response["headers"].items()
            if name.lower() in KEPT_RESPONSE_HEADERS
        }
        body = response["body"].get("string", b"")
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        with contextlib.suppress(ValueError):  # a body that is not JSON keeps only the secret scrubbing
            body = json.dumps(_scrub_foreign(json.loads(body), own_prefix), separators=(",", ":"))
        response["body"]["string"] = _scrub_text(body, secrets).encode()
        return response

    return vcr.VCR(
        cassette_library_dir=str(cassette_dir),
        record_mode="all" if record else "none",
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=["authorization", "cookie", "x-csrftoken", "x-authentik-csrf"],
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
    )


def recorded_releases() -> list[str]:
    if not CASSETTES.is_dir():
        return []
    return sorted(path.name for path in CASSETTES.iterdir() if (path / "meta.json").is_file())


def read_meta(release: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((CASSETTES / release / "meta.json").read_text())
    return meta


def write_meta(release: str, meta: dict[str, Any]) -> None:
    directory = CASSETTES / release
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
