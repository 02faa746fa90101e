"""Release parsing and the version range provision accepts."""

from __future__ import annotations

import pytest

from provision.api.releases import Release, check_supported
from provision.errors import ProvisionError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025.12.4", Release(2025, 12, 4)),
        ("2026.5.0-rc1", Release(2026, 5, 0, "rc1")),
        ("2024.2", Release(2024, 2)),
    ],
)
def test_parse(text: str, expected: Release) -> None:
    assert Release.parse(text) == expected


def test_prerelease_sorts_before_release() -> None:
    assert Release.parse("2026.5.0-rc1") < Release.parse("2026.5.0")
    assert Release.parse("2026.5.0-rc1").at_least(2026, 5)


def test_unparsable_version() -> None:
    with pytest.raises(ProvisionError, match="cannot read the authentik version"):
        Release.parse("latest")


def test_too_old_refused() -> None:
    with pytest.raises(ProvisionError, match=r"needs 2024\.2 or newer"):
        check_supported(Release(2023, 10, 7))


def test_newer_than_tested_warns() -> None:
    warning = check_supported(Release(2027, 2, 1))
    assert warning is not None
    assert "2024.2 to 2026.5" in warning


def test_tested_release_no_warning() -> None:
    assert check_supported(Release(2025, 12, 4)) is None


@pytest.mark.parametrize(
    ("release", "path"),
    [
        (Release(2024, 6, 3), "propertymappings/scope/"),
        (Release(2024, 8), "propertymappings/provider/scope/"),
    ],
)
def test_scope_mapping_path(release: Release, path: str) -> None:
    assert release.scope_mapping_path == path
