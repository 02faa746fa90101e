"""An in-process fake of authentik's REST API (/api/v3/) and an OpenAPI request validator,
both per authentik release, for the test suite.

    fake = FakeAuthentik(release="2025.12")
    session = fake.session()
    session.get(f"{fake.base_url}/api/v3/core/groups/", headers={"Authorization": "Bearer test-token"})
    assert fake.violations == []
"""

from .fake import FakeAuthentik, RecordedRequest
from .openapi import RequestValidator
from .schemas import SCHEMA_RELEASES, Release, schema_dir

__all__ = [
    "SCHEMA_RELEASES",
    "FakeAuthentik",
    "RecordedRequest",
    "Release",
    "RequestValidator",
    "schema_dir",
]
