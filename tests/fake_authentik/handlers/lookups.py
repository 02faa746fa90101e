"""Resources the tool only looks up: flows, certificate key pairs and the version."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Record, Reply, Request, Resource


class Flows(Resource):
    kind = "flow"
    model = "Flow"
    component = "Flow"
    collection = ("/flows/instances/",)
    item = ("/flows/instances/{slug}/",)
    lookup = "slug"
    ordering = ("slug", "order")
    search_fields = ("name", "slug", "title")
    exact_filters: ClassVar[dict[str, str]] = {
        "slug": "slug",
        "name": "name",
        "designation": "designation",
        "flow_uuid": "pk",
        "denied_action": "denied_action",
    }

    def defaults(self) -> Record:
        # 2025.12: `background` holds the stored value, the URL moves to background_url.
        stored = self.server.release.at_least("2025.12")
        default_background = "/static/dist/assets/images/flow_background.jpg"
        return {
            "background": "" if stored else default_background,
            "background_url": default_background,
            "background_themed_urls": None,
            "stages": [],
            "policies": [],
            "cache_count": 0,
            "policy_engine_mode": "any",
            "compatibility_mode": False,
            "layout": "stacked",
            "denied_action": "message_continue",
            "authentication": "none",
        }

    def derive(self, record: Record) -> None:
        record["policybindingmodel_ptr_id"] = record["pk"]
        record["export_url"] = f"/api/v3/flows/instances/{record['slug']}/export/"


class Certificates(Resource):
    kind = "certificate"
    model = "CertificateKeyPair"
    component = "CertificateKeyPair"
    collection = ("/crypto/certificatekeypairs/",)
    item = ("/crypto/certificatekeypairs/{kp_uuid}/",)
    exact_filters: ClassVar[dict[str, str]] = {"name": "name", "managed": "managed"}

    def defaults(self) -> Record:
        return {
            "fingerprint_sha256": "00" * 32,
            "fingerprint_sha1": "00" * 20,
            "cert_expiry": "2035-01-01T00:00:00Z",
            "cert_subject": "CN=authentik Self-signed Certificate",
            "private_key_available": True,
            "private_key_type": "rsa",  # up to 2025.10
            "key_type": "rsa",  # 2025.12+
            "managed": None,
        }

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        records = self.exact(records, request)
        if (has_key := request.first("has_key")) is not None:
            wanted = has_key.lower() == "true"
            records = [r for r in records if r["private_key_available"] == wanted]
        return records

    def derive(self, record: Record) -> None:
        base = f"/api/v3/crypto/certificatekeypairs/{record['pk']}"
        record["certificate_download_url"] = f"{base}/view_certificate/?download"
        record["private_key_download_url"] = f"{base}/view_private_key/?download"


class Version:
    """``admin/version/``; the fields are whatever the release's Version schema has."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("/admin/version/", "GET"): self.retrieve}

    def retrieve(self, request: Request) -> Reply:
        version = self.server.version
        body = {
            "version_current": version,
            "version_latest": version,
            "version_latest_valid": True,  # 2024.4+
            "build_hash": "",
            "outdated": False,
            "outpost_outdated": False,  # 2024.8+
        }
        return Reply(200, self.server.shape("Version", body))
