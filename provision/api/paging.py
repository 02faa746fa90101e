"""Pages of authentik's list endpoints, and reading several lists at once.

Kept apart from the client so that importing it does not import requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    page count, so the remaining pages of every list then share the same pool. Returns the
    objects of each list, in the order of `reads` and of the pages. With `parallelism` 1 the
    requests are sent one after another, list by list.
    """
    if parallelism <= 1 or not reads:
        return [client.list(path, params) for path, params in reads]
    pages: list[dict[int, list[dict[str, Any]]]] = [{} for _ in reads]
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        firsts = {
            pool.submit(client.page, path, params, 1): index for index, (path, params) in enumerate(reads)
        }
        rest: list[tuple[int, int, Future[Page]]] = []
        # A list's remaining pages are queued as soon as its own first page has arrived.
        for future in as_completed(firsts):
            index = firsts[future]
            path, params = reads[index]
            first = future.result()
            pages[index][1] = first.results
            rest += [
                (index, number, pool.submit(client.page, path, params, number))
                for number in range(2, first.total_pages + 1)
            ]
        for index, number, page in rest:
            pages[index][number] = page.result().results
    return [[item for number in sorted(by_number) for item in by_number[number]] for by_number in pages]
