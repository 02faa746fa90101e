"""Running the provision CLI in-process and measuring each run: requests, wall time, CPU time.

The CLI runs in this process so that every request can be counted at the HTTP session
(`provision.api.client.new_session` is replaced, as the tests do) and so that the tool's own
CPU time can be told apart: against the in-process fake, the CPU time spent serving requests
is measured separately and subtracted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from typer.main import get_command
from typer.testing import CliRunner

from provision import cli
from provision.api import client as client_module
from provision.secrets import forget_all_secrets

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/v3/"


@dataclass(frozen=True)
class Call:
    """One HTTP request the tool sent, with its path relative to /api/v3/."""

    method: str
    path: str
    status: int
    seconds: float
    body: Any = None
    response_body: Any = None

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS


@dataclass
class Recorder:
    """A thread-safe log of the requests sent through the sessions made with it."""

    keep_writes: bool = False
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, url: str, data: Any, response: requests.Response) -> None:
        path = urlsplit(url).path
        path = path[path.find(API_PREFIX) + len(API_PREFIX) :] if API_PREFIX in path else path
        body = response_body = None
        if self.keep_writes and method.upper() in WRITE_METHODS:
            body = json.loads(data) if data else None
            response_body = response.json() if response.content else None
        seconds = response.elapsed.total_seconds()
        call = Call(method.upper(), path, response.status_code, seconds, body, response_body)
        with self._lock:
            self.calls.append(call)

    def reset(self) -> list[Call]:
        with self._lock:
            calls, self.calls = self.calls, []
        return calls


class CountingSession(requests.Session):
    """A requests session that reports every request to a recorder."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, *args, **kwargs)
        data = kwargs.get("data", args[1] if len(args) > 1 else None)
        self.recorder.add(str(method), str(url), data, response)
        return response


@dataclass(frozen=True)
class Measurement:
    """One step of the benchmark: a CLI run, or requests sent directly."""

    step: str
    wall: float
    cpu: float
    server_cpu: float
    reads: int
    writes: int
    exit_code: int = 0
    calls: tuple[Call, ...] = ()

    @property
    def tool_cpu(self) -> float:
        """CPU time of the tool itself: this process, minus what the in-process fake used."""
        return max(0.0, self.cpu - self.server_cpu)

    @property
    def requests(self) -> int:
        return self.reads + self.writes


class ToolRunner:
    """Runs `provision` commands in-process against one server and measures each run."""

    def __init__(
        self,
        url: str,
        token: str,
        session_factory: Callable[[Recorder], requests.Session],
        server_cpu: Callable[[], float],
    ) -> None:
        self.env = {"AUTHENTIK_URL": url, "AUTHENTIK_TOKEN": token, "NO_COLOR": "1"}
        self.recorder = Recorder(keep_writes=True)
        self.session_factory = session_factory
        self.server_cpu = server_cpu

    def run(self, step: str, args: Sequence[str], expect: Sequence[int] = (0,)) -> tuple[Measurement, str]:
        """Run `provision ARGS`; return the measurement and the command's output."""
        original = client_module.new_session
        client_module.new_session = lambda: self.session_factory(self.recorder)
        forget_all_secrets()  # each real invocation starts with an empty secret registry
        self.recorder.reset()
        server_before, cpu_before, started = self.server_cpu(), time.process_time(), time.perf_counter()
        try:
            result = CliRunner().invoke(cli.app, list(args), env=self.env)
        finally:
            client_module.new_session = original
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        server = self.server_cpu() - server_before
        calls = tuple(self.recorder.reset())
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if result.exit_code not in expect:
            tail = (result.stdout + result.stderr)[-3000:]
            raise RuntimeError(f"provision {' '.join(args)} exited {result.exit_code}:\n{tail}")
        writes = sum(call.is_write for call in calls)
        measurement = Measurement(
            step, wall, cpu, server, len(calls) - writes, writes, result.exit_code, calls
        )
        return measurement, result.stdout


def apply_has_parallelism() -> bool:
    """Whether this provision's `apply` takes `--parallelism N`."""
    apply = get_command(cli.app).commands["apply"]  # type: ignore[attr-defined]
    return any("--parallelism" in param.opts for param in apply.params)
