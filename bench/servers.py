"""The two servers the benchmark runs against: the in-process fake, or a real authentik."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import requests

from bench.measure import CountingSession, Recorder
from provision.api.client import is_loopback_url

RETRIES = 2
RETRY_STATUSES = frozenset({502, 503, 504})
RETRY_BACKOFF = 0.5
# Task states of authentik 2025.10 and later that mean queued or in progress.
BUSY_TASK_STATES = ("queued", "consumed", "preprocess", "running", "postprocess")
IDLE_POLL_SECONDS = 2.0


class FakeServer:
    """authentik's API as the test suite fakes it, served in this process."""

    real = False

    def __init__(self, release: str = "2025.12") -> None:
        from tests.fake_authentik import FakeAuthentik

        self.fake = FakeAuthentik(release=release)
        self.url = self.fake.base_url
        self.token = self.fake.token
        self.version = self.fake.version
        self._cpu = 0.0
        self._lock = threading.RLock()
        serve = self.fake.handle

        def timed(prepared: requests.PreparedRequest) -> tuple[int, Any]:
            # The fake's state is plain Python: one request at a time. thread_time counts only
            # the CPU this thread spends serving, which is subtracted from the tool's.
            with self._lock:
                started = time.thread_time()
                try:
                    return serve(prepared)
                finally:
                    self._cpu += time.thread_time() - started

        self.fake.handle = timed  # type: ignore[method-assign]

    def session(self, recorder: Recorder) -> requests.Session:
        session = CountingSession(recorder)
        self.fake.mount(session)
        return session

    def server_cpu(self) -> float:
        return self._cpu

    def describe(self) -> str:
        return f"in-process fake of authentik {self.version} (tests/fake_authentik)"


class LiveServer:
    """A real authentik, reached over HTTP."""

    real = True

    def __init__(self, url: str, token: str, *, allow_remote: bool = False) -> None:
        if not is_loopback_url(url) and not allow_remote:
            raise SystemExit(
                f"{url} is not a loopback address; the benchmark creates and deletes hundreds of "
                "objects, so pass --allow-remote to run it against that server."
            )
        self.url = url.rstrip("/")
        self.token = token
        self.api = self.url + "/api/v3/"
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.version = str(self.call("GET", "admin/version/")["version_current"])

    def session(self, recorder: Recorder) -> requests.Session:
        return CountingSession(recorder)

    def server_cpu(self) -> float:
        return 0.0  # the server runs in other processes

    def describe(self) -> str:
        return f"authentik {self.version} at {self.url}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        session: requests.Session | None = None,
        expect: tuple[int, ...] = (200, 201, 204),
    ) -> Any:
        """Send one request straight to the API, without provision's client, and decode the response.

        A dropped connection or a 502, 503 or 504 is retried up to twice, as provision's client
        does. authentik's gunicorn configuration restarts a worker after 1000 to 1050 requests,
        which can drop a keep-alive connection. NOTE: a POST retried after a dropped connection
        fails with 400 if the first attempt did create the object. The sweep at the end of each
        size still deletes it.
        """
        sender = session or requests
        for attempt in range(1, RETRIES + 2):
            try:
                response = sender.request(
                    method, self.api + path, json=body, params=params, headers=self.headers, timeout=600
                )
            except requests.ConnectionError as error:
                if attempt > RETRIES:
                    raise
                print(f"   {method} {path} failed ({error}); retrying", file=sys.stderr, flush=True)
            else:
                if response.status_code not in RETRY_STATUSES or attempt > RETRIES:
                    break
                print(f"   {method} {path} -> {response.status_code}; retrying", file=sys.stderr, flush=True)
            time.sleep(RETRY_BACKOFF * attempt)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def wait_for_idle_worker(self, limit: float) -> float | None:
        """Wait until authentik's worker has no task queued or in progress; return the seconds waited.

        Every write makes authentik queue an event task, so a thousand writes leave the worker
        busy for minutes, and it shares the server's CPU with the API. Steps that are compared
        start from an idle worker. Returns None when the release has no task status endpoint
        (before 2025.10), and `limit` if the worker is still busy then.
        """
        started = time.perf_counter()
        while True:
            try:
                status = self.call("GET", "tasks/tasks/status/", expect=(200,))
            except RuntimeError:
                return None
            busy = sum(status.get(state, 0) for state in BUSY_TASK_STATES)
            waited = time.perf_counter() - started
            if busy == 0 or waited >= limit:
                return min(waited, limit)
            time.sleep(IDLE_POLL_SECONDS)

    def list_all(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        page = 1
        while page:
            body = self.call("GET", path, params={**(params or {}), "page": page, "page_size": 100})
            results += body["results"]
            next_page = body["pagination"]["next"]
            page = next_page if next_page and next_page > page else 0
        return results
