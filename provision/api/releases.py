"""authentik releases and what changes with them.

Every version-dependent path or field is decided here, from the release that
`GET /api/v3/admin/version/` reports, so the rest of the code asks
`release.scope_mapping_path` instead of comparing version numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from provision.errors import ProvisionError

_VERSION = re.compile(r"^(\d{4})\.(\d{1,2})(?:\.(\d+))?(?:-?(rc\d+|beta\d*|alpha\d*|dev\w*))?$")


@total_ordering
@dataclass(frozen=True)
class Release:
    """An authentik release such as 2025.12.4 or 2026.5.0-rc1."""

    year: int
    month: int
    patch: int = 0
    pre: str | None = None

    @classmethod
    def parse(cls, text: str) -> Release:
        match = _VERSION.match(text.strip())
        if not match:
            raise ProvisionError(
                f"cannot read the authentik version {text!r}",
                hint="Expected a version such as 2025.12.4 or 2026.5.0-rc1.",
            )
        year, month, patch, pre = match.groups()
        return cls(int(year), int(month), int(patch or 0), pre)

    def __str__(self) -> str:
        text = f"{self.year}.{self.month}.{self.patch}"
        return f"{text}-{self.pre}" if self.pre else text

    @property
    def series(self) -> str:
        return f"{self.year}.{self.month}"

    def _key(self) -> tuple[int, int, int, int]:
        # A pre-release sorts before the release it leads to.
        return (self.year, self.month, self.patch, 0 if self.pre else 1)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Release):
            return NotImplemented
        return self._key() < other._key()

    def at_least(self, year: int, month: int) -> bool:
        """True from the first build (pre-releases included) of series `year.month` on."""
        return (self.year, self.month) >= (year, month)

    # The properties below carry the version differences the client depends on.

    @property
    def scope_mapping_path(self) -> str:
        # Property-mapping paths moved under provider/ in 2024.8; the old path returns 404.
        if self.at_least(2024, 8):
            return "propertymappings/provider/scope/"
        return "propertymappings/scope/"

    @property
    def group_parents_field(self) -> str:
        # 2025.12 replaced the single `parent` with the list `parents`.
        return "parents" if self.at_least(2025, 12) else "parent"

    @property
    def has_invalidation_flow(self) -> bool:
        # Providers gained a required invalidation flow in 2024.10.
        return self.at_least(2024, 10)

    @property
    def max_page_size(self) -> int:
        # From 2025.12 larger page sizes are capped silently at 100; before, there was no cap.
        return 100 if self.at_least(2025, 12) else 500

    @property
    def max_slug_length(self) -> int | None:
        return None if self.at_least(2025, 12) else 50

    @property
    def has_include_users_filter(self) -> bool:
        return self.at_least(2024, 4)

    @property
    def has_certificate_include_details(self) -> bool:
        # The certificate list lost `include_details` in 2026.2.
        return not self.at_least(2026, 2)

    @property
    def mapping_test_takes_group(self) -> bool:
        return self.at_least(2024, 6)


OLDEST_SUPPORTED = Release(2024, 2)
NEWEST_TESTED = Release(2026, 5, 0, "rc1")
NEWEST_TESTED_SERIES = "2026.5"


def check_supported(release: Release) -> str | None:
    """Raise for a release older than the oldest supported; return a warning for one newer than tested."""
    if release < OLDEST_SUPPORTED:
        raise ProvisionError(
            f"authentik {release} is not supported: provision needs {OLDEST_SUPPORTED.series} or newer",
            hint="Upgrade authentik, or manage this instance with its own blueprints.",
        )
    if (release.year, release.month) > (NEWEST_TESTED.year, NEWEST_TESTED.month):
        return (
            f"authentik {release} is newer than the releases provision was tested with "
            f"({OLDEST_SUPPORTED.series} to {NEWEST_TESTED_SERIES}); check the plan with care"
        )
    return None
