"""The HTTP client: URLs, pagination, retries and error mapping, against the fake."""

from __future__ import annotations

import pytest
import requests

from provision.api.client import AuthentikClient, ConnectionSettings, api_base_url
from provision.api.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    ServerError,
    ValidationFailed,
)
from provision.api.paging import read_lists
from provision.errors import UsageError
from tests.fake_authentik import FakeAuthentik


def client_for(fake: FakeAuthentik, *, retries: int = 3) -> AuthentikClient:
    settings = ConnectionSettings(url=fake.base_url, token=fake.token, retries=retries, backoff=0.0)
    return AuthentikClient(settings, session=fake.session())


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com",
        "https://auth.example.com/",
        "https://auth.example.com/api/v3",
        "https://auth.example.com/api/v3/",
    ],
)
def test_base_url_normalised(url: str) -> None:
    assert api_base_url(url) == "https://auth.example.com/api/v3/"


def test_base_url_keeps_subpath() -> None:
    assert api_base_url("https://example.com/authentik/") == "https://example.com/authentik/api/v3/"


@pytest.mark.parametrize("url", ["auth.example.com", "ftp://auth.example.com", ""])
def test_invalid_url_rejected(url: str) -> None:
    with pytest.raises(UsageError, match="invalid authentik URL"):
        api_base_url(url)


@pytest.mark.parametrize("fake", ["2024.8", "2025.12"], indirect=True)
def test_list_reads_every_page(fake: FakeAuthentik) -> None:
    for number in range(230):
        fake.create_record("group", name=f"bulk-{number:03}")
    fake.refresh()
    client = client_for(fake)
    groups = client.list("core/groups/")
    assert len([group for group in groups if group["name"].startswith("bulk-")]) == 230
    pages = [request for request in fake.requests if request.path == "/core/groups/"]
    expected_pages = 3 if fake.release.at_least("2025.12") else 1
    assert len(pages) == expected_pages


@pytest.mark.parametrize("parallelism", [1, 4])
def test_read_lists_keeps_list_and_page_order(fake: FakeAuthentik, parallelism: int) -> None:
    for number in range(230):
        fake.create_record("group", name=f"bulk-{number:03}")
    fake.refresh()
    client = client_for(fake)
    reads = [("core/groups/", {"include_users": "false"}), ("flows/instances/", {}), ("core/groups/", {})]

    lists = read_lists(client, reads, parallelism)

    assert lists == [client.list(path, params) for path, params in reads]
    assert len(lists[0]) > 230
    assert [group["name"] for group in lists[0]] == [group["name"] for group in lists[2]]


def test_read_lists_first_page_leads(fake: FakeAuthentik) -> None:
    """A list's later pages are requested once its first page has given the page count."""
    for number in range(230):
        fake.create_record("group", name=f"bulk-{number:03}")
    fake.refresh()
    client = client_for(fake)
    client.release  # noqa: B018 (reads the version first)
    fake.reset_log()

    read_lists(client, [("core/groups/", {}), ("flows/instances/", {})], parallelism=4)

    groups = [request.query["page"] for request in fake.requests if request.path == "/core/groups/"]
    flows = [request.query["page"] for request in fake.requests if request.path == "/flows/instances/"]
    assert groups[0] == ["1"]
    assert sorted(groups[1:]) == [["2"], ["3"]]
    assert flows == [["1"]]


def test_get_retried_after_503(fake: FakeAuthentik) -> None:
    fake.fail_next("GET", r"^/core/groups/$", status=503)
    client = client_for(fake)
    assert isinstance(client.list("core/groups/"), list)
    statuses = [request.status for request in fake.requests if request.path == "/core/groups/"]
    assert statuses == [503, 200]


def test_get_retried_after_connection_error(fake: FakeAuthentik, caplog: pytest.LogCaptureFixture) -> None:
    fake.fail_next("GET", r"^/core/groups/$", exc=requests.ConnectionError("reset"))
    client = client_for(fake)
    client.list("core/groups/")
    assert "attempt 2 of 3" in caplog.text


def test_retries_give_up(fake: FakeAuthentik) -> None:
    fake.fail_next("GET", r"^/core/groups/$", exc=requests.ConnectionError("down"), times=3)
    client = client_for(fake)
    client.release  # noqa: B018 (reads the version first, so the next 403 would not count as the first answer)
    with pytest.raises(ConnectionFailed, match="cannot reach authentik"):
        client.list("core/groups/")


def test_post_not_retried(fake: FakeAuthentik) -> None:
    fake.fail_next("POST", r"^/core/groups/$", status=503)
    client = client_for(fake)
    with pytest.raises(ServerError, match="503"):
        client.post("core/groups/", {"name": "once"})
    posts = [request for request in fake.requests if request.method == "POST"]
    assert len(posts) == 1


def test_bad_token_on_first_request(fake: FakeAuthentik) -> None:
    settings = ConnectionSettings(url=fake.base_url, token="not-the-token")
    client = AuthentikClient(settings, session=fake.session())
    with pytest.raises(AuthenticationFailed) as caught:
        client.release  # noqa: B018
    assert "token is invalid, expired, or lacks permissions" in str(caught.value)


def test_later_403_is_permission_error(fake: FakeAuthentik) -> None:
    client = client_for(fake)
    client.release  # noqa: B018
    fake.fail_next(
        "GET",
        r"^/core/groups/$",
        status=403,
        body={"detail": "You do not have permission to perform this action."},
    )
    with pytest.raises(PermissionDenied) as caught:
        client.list("core/groups/")
    assert caught.value.server_message == "You do not have permission to perform this action."


def test_field_errors_kept(fake: FakeAuthentik) -> None:
    client = client_for(fake)
    with pytest.raises(ValidationFailed) as caught:
        client.post("core/groups/", {"name": "authentik Admins"})
    assert caught.value.field_errors[0][0] == "name"


def test_not_found(fake: FakeAuthentik) -> None:
    client = client_for(fake)
    with pytest.raises(NotFound):
        client.get("core/groups/00000000-0000-0000-0000-000000000000/")


def test_write_405_explained(fake: FakeAuthentik) -> None:
    # authentik 2025.12.4 responds to a crash in a write with 405 and an empty body.
    client = client_for(fake)
    fake.fail_next("PATCH", r"^/core/groups/", status=405, body=None)
    group = client.list("core/groups/")[0]
    with pytest.raises(ServerError) as caught:
        client.patch(f"core/groups/{group['pk']}/", {"attributes": {}})
    assert "server log" in str(caught.value)


@pytest.mark.parametrize("fake", ["2025.12"], indirect=True)
def test_binding_patch_without_target_is_405(fake: FakeAuthentik) -> None:
    # Seen on a live 2025.12.4 server: a crash in a write comes back as 405 with no body.
    group = fake.find("group", name="authentik Admins")
    application = fake.api("POST", "/core/applications/", json={"name": "a", "slug": "a"}).json()
    binding = fake.api(
        "POST", "/policies/bindings/", json={"target": application["pk"], "group": group["pk"], "order": 0}
    ).json()
    response = fake.api("PATCH", f"/policies/bindings/{binding['pk']}/", json={"order": 1})
    assert response.status_code == 405
    assert response.content == b""


class ScriptedAdapter(requests.adapters.BaseAdapter):
    """Transport adapter that returns a scripted list of (status, headers, body) and records each request."""

    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.seen: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        self.seen.append(request.path_url or "")
        status, headers, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = body
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_retry_after_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("provision.api.client.time.sleep", slept.append)
    adapter = ScriptedAdapter(
        [
            (429, {"Retry-After": "7"}, b'{"detail": "slow down"}'),
            (200, {}, b'{"version_current": "2025.12.4"}'),
        ]
    )
    session = requests.Session()
    session.mount("https://", adapter)
    client = AuthentikClient(ConnectionSettings(url="https://auth.example.com", token="t" * 20), session)
    assert str(client.release) == "2025.12.4"
    assert slept == [7.0]
    assert len(adapter.seen) == 2


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://auth.example.com", True),
        ("http://127.0.0.1:9000", False),
        ("https://auth.example.com", False),
    ],
)
def test_plain_http_warning(monkeypatch: pytest.MonkeyPatch, url: str, warned: bool) -> None:
    from provision import workflow

    adapter = ScriptedAdapter([(200, {}, b'{"version_current": "2025.12.4"}')])
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    monkeypatch.setattr("provision.api.client.new_session", lambda: session)
    _, warnings = workflow.connect(ConnectionSettings(url=url, token="t" * 20))
    assert any("plain http" in warning for warning in warnings) is warned
