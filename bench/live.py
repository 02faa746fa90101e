"""What only a real authentik can measure: bare parallel writes and a native blueprint apply.

Plus the sweep that deletes everything whose name starts with the run's prefix, which runs
after every size whatever happened before it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests

from bench.measure import Call, Measurement
from bench.servers import LiveServer

# Write paths in dependency order: the writes of one level need only earlier levels' objects.
# NOTE: groups with parents would need one level per depth; the generated specs have none.
LEVELS = ("core/groups/", "propertymappings/", "providers/", "core/applications/", "policies/bindings/")
# Fields whose values are primary keys of other objects created in the same run.
REFERENCE_KEYS = frozenset({"provider", "property_mappings", "target", "group", "parent", "parents"})
# What the sweep lists and deletes: collection, field matched against the prefix, item key.
SWEEP = (
    ("core/applications/", "slug", "slug"),
    ("providers/proxy/", "name", "pk"),
    ("propertymappings/provider/scope/", "name", "pk"),
    ("core/groups/", "name", "pk"),
    ("managed/blueprints/", "name", "pk"),
)
SWEEP_PARAMS = {
    # Without it, an admin sees only the applications its policies let it open.
    "core/applications/": {"superuser_full_list": "true"},
    "core/groups/": {"include_users": "false"},
}
BLUEPRINT_POLL_SECONDS = 0.05
# authentik 2025.12 stops a worker task after 10 minutes (`worker.task_default_time_limit`),
# so an apply that has not finished well after that will not finish.
BLUEPRINT_TIMEOUT = 900.0
T = TypeVar("T")
R = TypeVar("R")


def level_of(path: str) -> int | None:
    return next((i for i, prefix in enumerate(LEVELS) if path.startswith(prefix)), None)


def _run_parallel(function: Callable[[T], R], items: Iterable[T], parallelism: int) -> list[R]:
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        return list(pool.map(function, items))


class _Sessions(threading.local):
    """One keep-alive session per thread, as a client with a connection pool would have."""

    def get(self) -> requests.Session:
        if not hasattr(self, "session"):
            self.session = requests.Session()
        return self.session


def _substitute(value: Any, pks: dict[Any, Any], key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, pks, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(item, pks, key) for item in value]
    if key in REFERENCE_KEYS and not isinstance(value, bool) and value in pks:
        return pks[value]
    return value


def replay_writes(server: LiveServer, writes: list[Call], parallelism: int) -> tuple[Measurement, list[str]]:
    """Send the tool's writes again straight with requests, each level's writes in parallel.

    Primary keys in the bodies are swapped for those of the objects created by the replay. The
    stack's inventory write (one request, `managed/blueprints/`) is left out. Returns the
    measurement and the item paths of the objects created, for `delete_paths`.
    """
    by_level: dict[int, list[Call]] = {}
    for call in writes:
        level = level_of(call.path)
        if level is not None:
            by_level.setdefault(level, []).append(call)
    pks: dict[Any, Any] = {}
    created: list[str] = []
    sessions = _Sessions()

    def send(call: Call) -> tuple[Call, Any]:
        path = "/".join(str(pks.get(part, part)) for part in call.path.split("/"))
        body = _substitute(call.body, pks)
        return call, server.call(call.method, path, body, session=sessions.get())

    cpu_before, started = time.process_time(), time.perf_counter()
    for level in sorted(by_level):
        for call, created_body in _run_parallel(send, by_level[level], parallelism):
            if (
                call.method == "POST"
                and isinstance(created_body, dict)
                and isinstance(call.response_body, dict)
            ):
                pks[call.response_body.get("pk")] = pks[str(call.response_body.get("pk"))] = created_body.get(
                    "pk"
                )
                key = (
                    created_body.get("slug")
                    if call.path.startswith("core/applications/")
                    else created_body.get("pk")
                )
                if not call.path.startswith("policies/bindings/"):  # deleted with their application
                    created.append(f"{call.path}{key}/")
    wall = time.perf_counter() - started
    count = sum(len(calls) for calls in by_level.values())
    measurement = Measurement("bare writes", wall, time.process_time() - cpu_before, 0.0, 0, count)
    return measurement, created


def delete_paths(server: LiveServer, paths: list[str], parallelism: int) -> Measurement:
    """Delete objects in reverse dependency order, each level in parallel."""
    sessions = _Sessions()

    def delete(path: str) -> None:
        server.call("DELETE", path, session=sessions.get(), expect=(204, 404))

    cpu_before, started = time.process_time(), time.perf_counter()
    for level in reversed(range(len(LEVELS))):
        _run_parallel(delete, [path for path in paths if level_of(path) == level], parallelism)
    wall = time.perf_counter() - started
    return Measurement("bare deletes", wall, time.process_time() - cpu_before, 0.0, 0, len(paths))


def blueprint_apply(
    server: LiveServer,
    content: str,
    name: str,
    measurements: list[Measurement],
    settle: Callable[[str], None],
) -> None:
    """Create a blueprint instance with `content`, apply it, then apply it again unchanged.

    authentik 2025.12 queues the apply for its worker and responds at once, so each apply is
    timed from the request until the instance's `last_applied` changes. Each measurement is
    appended to `measurements` as soon as it is taken, so a later failure keeps the earlier ones.
    `settle(step)` runs before each step. The sweep at the end of the size deletes the instance.
    """
    settle("blueprint create")
    started = time.perf_counter()
    record = server.call("POST", "managed/blueprints/", {"name": name, "content": content, "enabled": True})
    created = Measurement("blueprint create (validates)", time.perf_counter() - started, 0.0, 0.0, 0, 1)
    measurements.append(created)
    pk = str(record["pk"])
    settle("blueprint apply")
    first = _apply_and_wait(server, pk, "blueprint apply")
    measurements.append(first)
    settle("blueprint re-apply")
    again = _apply_and_wait(server, pk, "blueprint re-apply (unchanged)")
    measurements.append(again)


def _apply_and_wait(
    server: LiveServer, pk: str, step: str, timeout: float = BLUEPRINT_TIMEOUT
) -> Measurement:
    before = server.call("GET", f"managed/blueprints/{pk}/")["last_applied"]
    polls = 0
    started = time.perf_counter()
    server.call("POST", f"managed/blueprints/{pk}/apply/")
    while True:
        record = server.call("GET", f"managed/blueprints/{pk}/")
        polls += 1
        if record["last_applied"] != before:
            break
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"blueprint instance {pk} was not applied within {timeout:.0f} s")
        time.sleep(BLUEPRINT_POLL_SECONDS)
    wall = time.perf_counter() - started
    if record["status"] != "successful":
        raise RuntimeError(f"the blueprint apply ended with status {record['status']!r}")
    return Measurement(step, wall, 0.0, 0.0, polls, 1)


def sweep(server: LiveServer, prefix: str, extra_names: Iterable[str] = (), parallelism: int = 4) -> int:
    """Delete every object whose name (slug for applications) starts with `prefix`; return how many.

    Each collection's objects are deleted in parallel, the collections one after another.
    """
    names = set(extra_names)
    sessions = _Sessions()
    deleted = 0
    for collection, field, key in SWEEP:
        # Blueprint instances are few, and a stack's inventory is named "provision: <stack>".
        params = {} if collection == "managed/blueprints/" else {"search": prefix}
        params.update(SWEEP_PARAMS.get(collection, {}))
        paths = [
            f"{collection}{item[key]}/"
            for item in server.list_all(collection, params)
            if str(item.get(field, "")).startswith(prefix) or str(item.get(field, "")) in names
        ]
        _run_parallel(
            lambda path: server.call("DELETE", path, session=sessions.get(), expect=(204, 404)),
            paths,
            parallelism,
        )
        deleted += len(paths)
    return deleted
