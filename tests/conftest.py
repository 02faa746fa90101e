"""Shared fixtures: the in-process fake authentik API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_authentik import SCHEMA_RELEASES, FakeAuthentik

DEFAULT_RELEASE = "2025.12"
"""The newest stable release: what `fake` serves unless parametrized."""

ALL_RELEASES = [r for r in SCHEMA_RELEASES if r != "2023.10"]
"""Every release with a schema from 2024.2 on (2026.5-rc included)."""


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> Iterator[FakeAuthentik]:
    """A fresh fake for DEFAULT_RELEASE, or for the release given by indirect
    parametrization: ``@pytest.mark.parametrize("fake", ["2024.8"], indirect=True)``.
    Fails the test at teardown if any request broke the release's OpenAPI schema."""
    release = getattr(request, "param", DEFAULT_RELEASE)
    server = FakeAuthentik(release=release)
    yield server
    if server.violations:
        listed = "\n  ".join(server.violations)
        pytest.fail(
            f"{len(server.violations)} request(s) broke the authentik {release} API schema:\n  {listed}",
            pytrace=False,
        )
