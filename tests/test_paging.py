"""Reading several lists at once: odd pagination, lists that change between pages, failures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from provision.api.client import AuthentikClient, ConnectionSettings
from provision.api.errors import ApiError, NotFound
from provision.api.paging import read_lists

Hook = Callable[[str, int, "PagedLists"], tuple[int, Any] | None]


class PagedLists(BaseAdapter):
    """A transport serving `lists` in pages of at most two objects, paginated as authentik does."""

    def __init__(
        self, lists: dict[str, list[dict[str, Any]]], *, total_pages: bool = True, hook: Hook | None = None
    ):
        super().__init__()
        self.lists = lists
        self.total_pages = total_pages
        self.hook = hook
        self.requested: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        path = parts.path.removeprefix("/api/v3/")
        if path == "admin/version/":
            return self._respond(request, 200, {"version_current": "2025.12.4"})
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        number = int(query.get("page", 1))
        with self.lock:
            self.requested.append((path, number))
        if self.hook is not None and (answer := self.hook(path, number, self)) is not None:
            return self._respond(request, *answer)
        size = min(int(query.get("page_size", 2)), 2)
        items = self.lists[path]
        total = max(1, -(-len(items) // size))
        if number > total:
            return self._respond(request, 404, {"detail": "Invalid page."})
        pagination: dict[str, Any] = {"next": number + 1 if number < total else 0, "count": len(items)}
        if self.total_pages:
            pagination["total_pages"] = total
        results = items[(number - 1) * size : number * size]
        return self._respond(request, 200, {"pagination": pagination, "results": results})

    @staticmethod
    def _respond(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        return response

    def close(self) -> None:
        pass


def client_for(transport: PagedLists) -> AuthentikClient:
    session = requests.Session()
    session.mount("https://authentik.test/", transport)
    return AuthentikClient(
        ConnectionSettings(url="https://authentik.test", token="t", backoff=0.0), session=session
    )


def objects(count: int, prefix: str = "item") -> list[dict[str, Any]]:
    return [{"pk": index, "name": f"{prefix}-{index:03}"} for index in range(count)]


@pytest.mark.parametrize("parallelism", [1, 2, 8])
def test_missing_page_count_follows_next(parallelism: int) -> None:
    transport = PagedLists({"a/": objects(7), "b/": objects(3, "b")}, total_pages=False)

    lists = read_lists(client_for(transport), [("a/", {}), ("b/", {})], parallelism)

    assert lists == [objects(7), objects(3, "b")]


@pytest.mark.parametrize("parallelism", [1, 2, 8])
def test_list_growing_read_to_end(parallelism: int) -> None:
    def grow(path: str, number: int, transport: PagedLists) -> None:
        if number == 2 and len(transport.lists[path]) == 6:
            transport.lists[path] = objects(9)  # another writer adds three objects

    transport = PagedLists({"a/": objects(6)}, hook=grow)

    lists = read_lists(client_for(transport), [("a/", {})], parallelism)

    assert lists == [objects(9)]


@pytest.mark.parametrize("parallelism", [1, 2, 8])
def test_list_shrinking_ends_early(parallelism: int) -> None:
    def shrink(path: str, number: int, transport: PagedLists) -> None:
        if number >= 2:
            transport.lists[path] = objects(3)  # another writer deletes three objects

    transport = PagedLists({"a/": objects(6)}, hook=shrink)

    lists = read_lists(client_for(transport), [("a/", {})], parallelism)

    assert lists[0][:2] == objects(2)


def test_failed_page_cancels_queued_pages() -> None:
    def fail(path: str, number: int, transport: PagedLists) -> tuple[int, Any] | None:
        if (path, number) == ("a/", 2):
            return (400, {"detail": "invalid"})
        time.sleep(0.01)  # every other page takes a while, so most are still queued
        return None

    lists = {"a/": objects(20), **{f"list-{index}/": objects(40) for index in range(6)}}
    transport = PagedLists(lists, hook=fail)

    with pytest.raises(ApiError):
        read_lists(client_for(transport), [(path, {}) for path in lists], parallelism=2)

    every_page = 10 + 6 * 20
    assert len(transport.requested) < every_page


def test_missing_list_endpoint_explained() -> None:
    transport = PagedLists({}, hook=lambda path, number, transport: (404, {"detail": "Not found."}))

    with pytest.raises(NotFound) as raised:
        read_lists(client_for(transport), [("core/groups/", {})], parallelism=2)

    assert str(raised.value).startswith("authentik has no list at GET /api/v3/core/groups/")
    assert "release is supported" in (raised.value.hint or "")
    assert "deleted" not in (raised.value.hint or "")
