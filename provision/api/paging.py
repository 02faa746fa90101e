"""Pages of authentik's list endpoints, and reading several lists at once.

Kept apart from the client so that importing it does not import requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provision.api.errors import NotFound

if TYPE_CHECKING:
    from provision.api.client import AuthentikClient


@dataclass(frozen=True)
class Page:
    """One page of a list endpoint: its objects, the next page's number and the page count."""

    results: list[dict[str, Any]]
    next_page: int | None
    total_pages: int


def read_lists(
    client: AuthentikClient, reads: Sequence[tuple[str, dict[str, Any]]], parallelism: int = 1
) -> list[list[dict[str, Any]]]:
    """Read every page of several lists through `client`, up to `parallelism` requests at a time.

    The first pages of all lists are requested together. Each first page contains its list's
    page count, so the remaining pages of every list then share the same pool. If a later page
    counts more pages, or the last one still links to a next one (the list grew, or the count
    was missing), the rest are read one after another. Returns the objects of each list, in
    the order of `reads` and of the pages. With `parallelism` 1 the requests are sent one
    after another, list by list.
    """
    if parallelism <= 1 or not reads:
        return [client.list(path, params) for path, params in reads]
    pages: list[dict[int, Page]] = [{} for _ in reads]
    pool = ThreadPoolExecutor(max_workers=parallelism)
    try:
        firsts = {
            pool.submit(client.page, path, params, 1): index for index, (path, params) in enumerate(reads)
        }
        rest: dict[Future[Page], tuple[int, int]] = {}
        # A list's remaining pages are queued as soon as its own first page has arrived.
        for future in as_completed(firsts):
            index = firsts[future]
            path, params = reads[index]
            first = future.result()
            pages[index][1] = first
            for number in range(2, first.total_pages + 1):
                rest[pool.submit(_later_page, client, path, params, number)] = (index, number)
        for future in as_completed(rest):
            index, number = rest[future]
            pages[index][number] = future.result()
    except BaseException:
        # Fail fast: the pages still queued would only add load to a failing server.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    for index, (path, params) in enumerate(reads):
        # A later page may count more pages than the first did: read those too.
        counted = max(page.total_pages for page in pages[index].values())
        for number in range(max(pages[index]) + 1, counted + 1):
            pages[index][number] = client.page(path, params, number)
        following = pages[index][max(pages[index])].next_page
        while following is not None:
            pages[index][following] = client.page(path, params, following)
            following = pages[index][following].next_page
    return [
        [item for number in sorted(by_number) for item in by_number[number].results] for by_number in pages
    ]


def _later_page(client: AuthentikClient, path: str, params: dict[str, Any], number: int) -> Page:
    """Fetch page `number` > 1, or an empty last page if the list has shrunk below it since page 1."""
    try:
        return client.page(path, params, number)
    except NotFound:
        return Page([], None, number - 1)
