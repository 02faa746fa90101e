"""A small JSON client for authentik's REST API (`/api/v3/`).

It owns the session, the token, timeouts, retries of idempotent requests,
pagination and error mapping; it does not depend on specs or plans.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from provision import __version__
from provision.api.errors import (
    ApiError,
    AuthenticationFailed,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    ServerError,
    ValidationFailed,
)
from provision.api.paging import Page
from provision.api.releases import Release
from provision.errors import UsageError
from provision.secrets import register_secret

log = logging.getLogger("provision.api")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_POSTS = ("/add_user/", "/remove_user/")


def new_session() -> requests.Session:
    """Create the HTTP session the client uses; tests replace this function to reach a fake authentik."""
    return requests.Session()


@dataclass(frozen=True)
class ConnectionSettings:
    """Connection settings: authentik's URL, the token, TLS verification, timeout and retries."""

    url: str
    token: str
    verify: bool | str = True
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5


def api_base_url(url: str) -> str:
    """Normalise `https://auth.example.com[/api/v3][/]` to `https://auth.example.com/api/v3/`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"invalid authentik URL {url!r}",
            hint="Give the base URL, such as https://authentik.example.com.",
        )
    path = parts.path.rstrip("/")
    if path.endswith("/api/v3"):
        path = path[: -len("/api/v3")]
    return f"{parts.scheme}://{parts.netloc}{path}/api/v3/"


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AuthentikClient:
    """Client of one authentik instance: sends requests and decodes the responses."""

    def __init__(self, settings: ConnectionSettings, session: requests.Session | None = None) -> None:
        if not settings.token:
            raise UsageError(
                "no API token given",
                hint="Set AUTHENTIK_TOKEN (or pass --token) to an authentik API token with intent `api`.",
            )
        register_secret(settings.token)
        self.settings = settings
        self.base_url = api_base_url(settings.url)
        self.session = session or new_session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {settings.token}",
                "Accept": "application/json",
                "User-Agent": f"authentik-provision/{__version__}",
            }
        )
        self.session.verify = settings.verify
        if settings.verify is False:
            # The CLI warns once that verification is off; urllib3 would warn on every request.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self.read_count = 0
        self.write_count = 0
        self._count_lock = threading.Lock()
        self._answered_once = False
        self._release: Release | None = None

    # -- version -----------------------------------------------------------

    @property
    def release(self) -> Release:
        if self._release is None:
            info = self.get("admin/version/")
            self._release = Release.parse(str(info.get("version_current", "")))
            log.info("authentik %s at %s", self._release, self.base_url)
        return self._release

    # -- requests ------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def list(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Fetch every page of a list endpoint."""
        return list(self.iter_list(path, params))

    def iter_list(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            answer = self.page(path, params, page)
            yield from answer.results
            if answer.next_page is None:
                return
            page = answer.next_page

    def page(self, path: str, params: dict[str, Any] | None, number: int) -> Page:
        """Fetch one page of a list endpoint, at the largest page size the release allows."""
        query = {"page_size": self.release.max_page_size, **(params or {}), "page": number}
        try:
            body = self.get(path, params=query)
        except NotFound as error:
            if number > 1:
                raise
            # The list endpoint itself is missing, so the usual hint about deleted objects would mislead.
            raise NotFound(
                f"authentik has no list at GET /api/v3/{path}",
                method="GET",
                path=path,
                status=404,
                body=error.body,
                hint=f"Check that {self.base_url} is authentik's API and that its release is supported.",
            ) from error
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise ConnectionFailed(
                f"{self.base_url} did not respond like authentik's API (GET /api/v3/{path} returned no result list)",
                method="GET",
                path=path,
                hint="Check the URL: it must reach authentik's server.",
            )
        log.debug("read page %d of %s: %d objects", number, path, len(results))
        pagination = body.get("pagination") or {}
        # authentik marks the last page with next == 0 rather than null.
        next_page = int(pagination.get("next") or 0)
        total = int(pagination.get("total_pages") or 0)
        return Page(results, next_page if next_page > number else None, max(total, number))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        url = self.base_url + path.lstrip("/")
        # Adding or removing a group member twice has the same effect as once.
        idempotent = method in IDEMPOTENT_METHODS or path.endswith(IDEMPOTENT_POSTS)
        attempts = self.settings.retries if idempotent else 1
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    data=None if body is None else json.dumps(body),
                    headers={"Content-Type": "application/json"} if body is not None else None,
                    timeout=self.settings.timeout,
                    # Passed per request: requests lets REQUESTS_CA_BUNDLE and
                    # CURL_CA_BUNDLE override the session's `verify`, which would
                    # silently undo --insecure and --ca-bundle.
                    verify=self.settings.verify,
                    # A redirect means a wrong URL (http to https, a login page);
                    # following it would turn a write into a GET.
                    allow_redirects=False,
                )
            except requests.exceptions.SSLError as error:
                raise self._tls_error(error, method, path) from error
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt < attempts:
                    self._wait_before_retry(method, path, attempt, attempts, type(error).__name__, None)
                    continue
                raise ConnectionFailed(
                    f"cannot reach authentik at {self.base_url}: {type(error).__name__}",
                    method=method,
                    path=path,
                    hint="Check the URL and that the server is up.",
                ) from error

            elapsed_ms = (time.monotonic() - started) * 1000
            log.info(
                "%s /api/v3/%s -> %s (%.0f ms)",
                method,
                path.lstrip("/"),
                response.status_code,
                elapsed_ms,
            )
            self._count(method)
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                self._wait_before_retry(
                    method,
                    path,
                    attempt,
                    attempts,
                    f"HTTP {response.status_code}",
                    response.headers.get("Retry-After"),
                )
                continue
            return self._decode(method, path, response)
        raise AssertionError("unreachable: the loop returns or raises")

    def _tls_error(self, error: requests.exceptions.SSLError, method: str, path: str) -> ConnectionFailed:
        text = str(error).lower()
        if (
            "wrong version number" in text
            or "record layer failure" in text
            or "packet length too long" in text
        ):
            return ConnectionFailed(
                f"{self.base_url} does not speak TLS",
                method=method,
                path=path,
                hint="The server answers plain HTTP on this port; use an http:// URL (only on a trusted network).",
            )
        if self.settings.verify is False:
            return ConnectionFailed(
                f"TLS handshake with {self.base_url} failed",
                method=method,
                path=path,
                hint="Check the URL and port.",
            )
        return ConnectionFailed(
            f"TLS verification failed for {self.base_url}",
            method=method,
            path=path,
            hint="Pass --ca-bundle with your CA's certificate, or --insecure to skip verification.",
        )

    def _count(self, method: str) -> None:
        with self._count_lock:
            if method in WRITE_METHODS:
                self.write_count += 1
            else:
                self.read_count += 1

    def _wait_before_retry(
        self,
        method: str,
        path: str,
        attempt: int,
        attempts: int,
        reason: str,
        retry_after: str | None,
    ) -> None:
        delay = self.settings.backoff * (2 ** (attempt - 1))
        if retry_after and retry_after.strip().isdigit():
            delay = min(float(retry_after.strip()), 60.0)
        log.warning(
            "%s /api/v3/%s failed (%s); retrying in %.1f s (attempt %d of %d)",
            method,
            path.lstrip("/"),
            reason,
            delay,
            attempt + 1,
            attempts,
        )
        time.sleep(delay)

    def _decode(self, method: str, path: str, response: requests.Response) -> Any:
        status = response.status_code
        is_json = True
        try:
            body = response.json() if response.content else None
        except ValueError:
            is_json = False
            body = response.text[:500]
        first_answer = not self._answered_once
        self._answered_once = True
        where = f"{method} /api/v3/{path.lstrip('/')}"
        if 300 <= status < 400:
            raise ConnectionFailed(
                f"{where} was redirected ({status}) to {response.headers.get('Location', 'another address')}",
                method=method,
                path=path,
                status=status,
                hint="Give authentik's own base URL, with the scheme (http or https) it serves.",
            )
        if 200 <= status < 300:
            if not is_json or (method == "GET" and not isinstance(body, dict)):
                raise ConnectionFailed(
                    f"{self.base_url} did not respond like authentik's API ({where} returned no JSON object)",
                    method=method,
                    path=path,
                    status=status,
                    hint="Check the URL and port: it must reach authentik's server, not a health check or login page.",
                )
            return body

        kwargs: dict[str, Any] = {"method": method, "path": path, "status": status, "body": body}
        if status == 403:
            if first_answer:
                raise AuthenticationFailed(
                    f"authentik rejected the API token ({where}: 403)",
                    hint="The token is invalid, expired, or lacks permissions; create an API token "
                    "(intent `api`) for a user with admin rights and set AUTHENTIK_TOKEN.",
                    **kwargs,
                )
            raise PermissionDenied(
                f"permission denied: {where}",
                hint="The token's user lacks a permission for this request; grant it, or use an admin's token.",
                **kwargs,
            )
        if status == 404:
            raise NotFound(
                f"not found: {where}",
                hint="The object may have been deleted in authentik after the plan was made; run the command again.",
                **kwargs,
            )
        if status == 400:
            raise ValidationFailed(
                f"authentik rejected {where}",
                hint="Fix the value of the field named in authentik's message in the spec, then run apply again.",
                **kwargs,
            )
        if status == 405 and method in WRITE_METHODS:
            # authentik 2025.12.4 responds to a crash in a write with 405 and an empty
            # body, because its error view only allows GET.
            raise ServerError(
                f"authentik responded 405 to {where}",
                hint="authentik answers an internal error in a write this way; "
                "its server log has the traceback.",
                **kwargs,
            )
        raise ServerError(f"authentik responded {status} to {where}", **kwargs)


__all__ = ["ApiError", "AuthentikClient", "ConnectionSettings", "api_base_url", "new_session"]
