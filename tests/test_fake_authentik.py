"""The fake authentik API behaves like the real one, release by release."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import ALL_RELEASES
from tests.fake_authentik import FakeAuthentik, RequestValidator

FLOW = "default-provider-authorization-implicit-consent"


def call(fake: FakeAuthentik, method: str, path: str, token: str | None = "test-token", **kw: Any):
    """A request through a session, as the tool makes them (logged, validated)."""
    session = fake.session()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return session.request(method, f"{fake.base_url}/api/v3{path}", headers=headers, **kw)


def flow_pk(fake: FakeAuthentik, slug: str = FLOW) -> str:
    return str(fake.find("flow", slug=slug)["pk"])


def proxy_body(fake: FakeAuthentik, name: str = "app", **fields: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "authorization_flow": flow_pk(fake),
        "external_host": "https://app.example.com",
        "mode": "forward_single",
        **fields,
    }
    if fake.release.at_least("2024.10"):  # invalidation_flow is required from 2024.10
        body["invalidation_flow"] = flow_pk(fake, "default-provider-invalidation-flow")
    return body


def scope_path(fake: FakeAuthentik) -> str:
    if fake.release.at_least("2024.8"):
        return "/propertymappings/provider/scope/"
    return "/propertymappings/scope/"


def add_groups(fake: FakeAuthentik, count: int) -> None:
    for index in range(count):
        fake.create_record("group", name=f"group-{index:03}")
    fake.refresh()


# -- version, auth, paths ------------------------------------------------------------------


@pytest.mark.parametrize("fake", ALL_RELEASES, indirect=True)
def test_version_endpoint_reports_the_schema_version(fake: FakeAuthentik) -> None:
    body = call(fake, "GET", "/admin/version/").json()

    assert body["version_current"] == fake.version
    assert body["build_hash"] == ""
    assert body["outdated"] is False
    assert ("version_latest_valid" in body) == fake.release.at_least("2024.4")
    assert ("outpost_outdated" in body) == fake.release.at_least("2024.8")


@pytest.mark.parametrize(
    ("token", "detail"),
    [("wrong", "Token invalid/expired"), (None, "Authentication credentials were not provided.")],
)
def test_bad_or_missing_token_gets_403(fake: FakeAuthentik, token: str | None, detail: str) -> None:
    response = call(fake, "GET", "/core/groups/", token=token)

    assert response.status_code == 403
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("fake", "detail"),
    [
        ("2025.10", "Unsupported authentication type"),
        ("2025.12", "Authentication credentials were not provided."),
    ],
    indirect=["fake"],
)
def test_basic_auth_scheme_is_rejected(fake: FakeAuthentik, detail: str) -> None:
    response = fake.session().get(
        f"{fake.base_url}/api/v3/core/groups/", headers={"Authorization": "Basic eDp5"}
    )

    assert (response.status_code, response.json()) == (403, {"detail": detail})


@pytest.mark.parametrize(
    ("fake", "old", "new"), [("2024.6", 200, 404), ("2024.8", 404, 200)], indirect=["fake"]
)
def test_scope_mapping_path_moves_in_2024_8(fake: FakeAuthentik, old: int, new: int) -> None:
    assert call(fake, "GET", "/propertymappings/scope/").status_code == old
    assert call(fake, "GET", "/propertymappings/provider/scope/").status_code == new
    fake.violations.clear()  # one of the two paths is unknown on purpose


def test_unknown_path_404_and_wrong_method_405(fake: FakeAuthentik) -> None:
    assert call(fake, "GET", "/core/nothing/").status_code == 404
    assert call(fake, "PATCH", "/core/groups/", json={}).status_code == 405
    assert len(fake.violations) == 2
    fake.violations.clear()


# -- pagination ----------------------------------------------------------------------------


def test_pagination_ends_with_next_0(fake: FakeAuthentik) -> None:
    add_groups(fake, 24)  # plus authentik Admins: 25
    pages = []
    page = 1
    while page:
        body = call(fake, "GET", "/core/groups/", params={"page": page, "page_size": 10}).json()
        pages.append(body["pagination"])
        page = body["pagination"]["next"]

    assert [p["current"] for p in pages] == [1, 2, 3]
    assert pages[-1] == {
        "next": 0,
        "previous": 2,
        "count": 25,
        "current": 3,
        "total_pages": 3,
        "start_index": 21,
        "end_index": 25,
    }


@pytest.mark.parametrize(
    ("fake", "default", "capped"), [("2024.8", 100, 150), ("2025.12", 20, 100)], indirect=["fake"]
)
def test_page_size_default_and_maximum(fake: FakeAuthentik, default: int, capped: int) -> None:
    add_groups(fake, 149)

    plain = call(fake, "GET", "/core/groups/").json()
    large = call(fake, "GET", "/core/groups/", params={"page_size": 500}).json()

    assert len(plain["results"]) == default
    assert len(large["results"]) == capped


def test_page_out_of_range_is_404(fake: FakeAuthentik) -> None:
    response = call(fake, "GET", "/core/groups/", params={"page": 2})

    assert (response.status_code, response.json()) == (404, {"detail": "Invalid page."})


@pytest.mark.parametrize(("fake", "present"), [("2025.6", False), ("2025.8", True)], indirect=["fake"])
def test_autocomplete_key_from_2025_8(fake: FakeAuthentik, present: bool) -> None:
    assert ("autocomplete" in call(fake, "GET", "/core/groups/").json()) is present


# -- proxy providers -----------------------------------------------------------------------


def test_proxy_patch_without_mode_is_400_and_with_mode_200(fake: FakeAuthentik) -> None:
    pk = call(fake, "POST", "/providers/proxy/", json=proxy_body(fake)).json()["pk"]

    without = call(fake, "PATCH", f"/providers/proxy/{pk}/", json={"cookie_domain": "example.com"})
    with_mode = call(
        fake,
        "PATCH",
        f"/providers/proxy/{pk}/",
        json={"cookie_domain": "example.com", "mode": "forward_single"},
    )

    assert without.status_code == 400
    assert without.json() == {
        "internal_host": ["Internal host cannot be empty when forward auth is disabled."]
    }
    assert with_mode.status_code == 200


def test_basic_auth_needs_both_attributes_in_the_same_body(fake: FakeAuthentik) -> None:
    body = proxy_body(fake, basic_auth_enabled=True, basic_auth_user_attribute="user")

    response = call(fake, "POST", "/providers/proxy/", json=body)

    assert response.status_code == 400
    assert list(response.json()) == ["basic_auth_enabled"]


@pytest.mark.parametrize(("fake", "count"), [("2024.6", 4), ("2024.8", 4), ("2025.12", 5)], indirect=["fake"])
def test_managed_scopes_are_added_after_create_and_patch(fake: FakeAuthentik, count: int) -> None:
    created = call(fake, "POST", "/providers/proxy/", json=proxy_body(fake)).json()
    patched = call(
        fake,
        "PATCH",
        f"/providers/proxy/{created['pk']}/",
        json={"mode": "forward_single", "property_mappings": []},
    ).json()

    managed = {m["pk"] for m in fake.store("scope_mapping") if m["managed"]}
    assert len(created["property_mappings"]) == count
    assert set(patched["property_mappings"]) == managed


def test_plain_name_filter_on_proxy_providers_returns_all(fake: FakeAuthentik) -> None:
    for name in ("one", "two"):
        call(fake, "POST", "/providers/proxy/", json=proxy_body(fake, name))

    plain = call(fake, "GET", "/providers/proxy/", params={"name": "one"}).json()
    iexact = call(fake, "GET", "/providers/proxy/", params={"name__iexact": "ONE"}).json()

    assert [p["name"] for p in plain["results"]] == ["one", "two"]
    assert [p["name"] for p in iexact["results"]] == ["one"]
    assert fake.violations == [
        "GET /providers/proxy/: query parameter 'name' is not declared (the server ignores it); "
        "declared: " + fake.violations[0].split("declared: ")[1]
    ]
    fake.violations.clear()


@pytest.mark.parametrize("fake", ["2024.10", "2025.6", "2025.12"], indirect=True)
def test_unassigned_provider_fields_null(fake: FakeAuthentik) -> None:
    # Seen on live 2024.10.5 and 2025.12.4 servers: null, where the API notes expected the fields to be omitted.
    body = call(fake, "POST", "/providers/proxy/", json=proxy_body(fake)).json()

    assert body["assigned_application_slug"] is None
    assert body["assigned_application_name"] is None


# -- policy bindings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fake", "status"),
    [("2024.8", 400), ("2024.10", 400), ("2024.12", 500), ("2025.10", 500), ("2025.12", 405)],
    indirect=["fake"],
)
def test_binding_patch_without_target(fake: FakeAuthentik, status: int) -> None:
    app = call(fake, "POST", "/core/applications/", json={"name": "App", "slug": "app"}).json()
    group = fake.find("group", name="authentik Admins")["pk"]
    binding = call(
        fake,
        "POST",
        "/policies/bindings/",
        json={"target": app["pk"], "group": group, "order": 0},
    ).json()
    path = f"/policies/bindings/{binding['pk']}/"

    without = call(fake, "PATCH", path, json={"order": 5})
    with_target = call(fake, "PATCH", path, json={"target": app["pk"], "group": group, "order": 5})

    assert without.status_code == status
    if status == 400:
        assert list(without.json()) == ["non_field_errors"]
    assert with_target.status_code == 200


# -- groups --------------------------------------------------------------------------------


@pytest.mark.parametrize("fake", ["2025.10", "2025.12"], indirect=True)
def test_group_parent_field_per_release(fake: FakeAuthentik) -> None:
    parent = call(fake, "POST", "/core/groups/", json={"name": "parent"}).json()["pk"]
    field, value = ("parent", parent) if fake.release.before("2025.12") else ("parents", [parent])

    child = call(fake, "POST", "/core/groups/", json={"name": "child", field: value}).json()

    assert child[field] == value
    assert "parents" not in child if field == "parent" else "parent" not in child


def test_group_parent_is_dropped_on_2025_12(fake: FakeAuthentik) -> None:
    parent = call(fake, "POST", "/core/groups/", json={"name": "parent"}).json()["pk"]

    child = call(fake, "POST", "/core/groups/", json={"name": "child", "parent": parent}).json()

    assert child["parents"] == []
    assert "unknown field" in fake.violations[0]
    fake.violations.clear()


def test_group_put_without_users_empties_them(fake: FakeAuthentik) -> None:
    admins = fake.find("group", name="authentik Admins")

    call(fake, "PUT", f"/core/groups/{admins['pk']}/", json={"name": "authentik Admins"})

    assert fake.find("group", name="authentik Admins")["users"] == []


def test_add_and_remove_user(fake: FakeAuthentik) -> None:
    pk = fake.add_user("alice")
    group = call(fake, "POST", "/core/groups/", json={"name": "staff"}).json()["pk"]

    added = call(fake, "POST", f"/core/groups/{group}/add_user/", json={"pk": pk})
    listed = call(fake, "GET", "/core/groups/", params={"members_by_username": "alice"}).json()
    unknown = call(fake, "POST", f"/core/groups/{group}/add_user/", json={"pk": 999})
    removed = call(fake, "POST", f"/core/groups/{group}/remove_user/", json={"pk": pk})

    assert added.status_code == 204
    assert [g["name"] for g in listed["results"]] == ["staff"]
    assert unknown.status_code == 404
    assert removed.status_code == 204
    assert fake.find("group", name="staff")["users"] == []


@pytest.mark.parametrize("fake", ["2024.4", "2025.12"], indirect=True)
def test_include_users_false_nulls_users_obj(fake: FakeAuthentik) -> None:
    body = call(fake, "GET", "/core/groups/", params={"include_users": "false"}).json()

    assert body["results"][0]["users_obj"] is None


# -- uniqueness ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fake", "status"), [("2024.4", 201), ("2024.6", 400), ("2025.12", 400)], indirect=["fake"]
)
def test_group_name_uniqueness_per_release(fake: FakeAuthentik, status: int) -> None:
    response = call(fake, "POST", "/core/groups/", json={"name": "authentik Admins"})

    assert response.status_code == status
    if status == 400:
        assert list(response.json()) == ["name"]


@pytest.mark.parametrize("fake", ["2024.2", "2024.8", "2025.12"], indirect=True)
def test_uniqueness_errors(fake: FakeAuthentik) -> None:
    mapping = {
        "name": "authentik default OAuth Mapping: OpenID 'email'",
        "scope_name": "x",
        "expression": "return {}",
    }
    provider = call(fake, "POST", "/providers/proxy/", json=proxy_body(fake)).json()["pk"]
    call(fake, "POST", "/core/applications/", json={"name": "A", "slug": "a", "provider": provider})

    responses = {
        "mapping": call(fake, "POST", scope_path(fake), json=mapping),
        "provider": call(fake, "POST", "/providers/proxy/", json=proxy_body(fake)),
        "slug": call(fake, "POST", "/core/applications/", json={"name": "B", "slug": "a"}),
        "app per provider": call(
            fake, "POST", "/core/applications/", json={"name": "C", "slug": "c", "provider": provider}
        ),
        "outpost": call(
            fake,
            "POST",
            "/outposts/instances/",
            json={
                "name": "authentik Embedded Outpost",
                "type": "proxy",
                "providers": [provider],
                "config": {},
            },
        ),
    }

    assert {k: (r.status_code, list(r.json())) for k, r in responses.items()} == {
        "mapping": (400, ["name"]),
        "provider": (400, ["name"]),
        "slug": (400, ["slug"]),
        "app per provider": (400, ["provider"]),
        "outpost": (400, ["name"]),
    }


def test_required_field_missing_is_400(fake: FakeAuthentik) -> None:
    body = proxy_body(fake)
    del body["invalidation_flow"]

    response = call(fake, "POST", "/providers/proxy/", json=body)

    assert response.json() == {"invalidation_flow": ["This field is required."]}
    fake.violations.clear()


# -- applications, outposts, cascades ------------------------------------------------------


def test_application_list_needs_superuser_full_list_to_see_filters(fake: FakeAuthentik) -> None:
    for slug in ("one", "two"):
        call(fake, "POST", "/core/applications/", json={"name": slug, "slug": slug})

    cached = call(fake, "GET", "/core/applications/", params={"slug": "one"}).json()
    stale = call(fake, "GET", "/core/applications/", params={"slug": "two"}).json()
    full = call(
        fake, "GET", "/core/applications/", params={"slug": "two", "superuser_full_list": "true"}
    ).json()

    assert [a["slug"] for a in cached["results"]] == ["one"]
    assert [a["slug"] for a in stale["results"]] == ["one"]  # the cache key ignores filters
    assert [a["slug"] for a in full["results"]] == ["two"]


def test_outpost_providers_replaced_and_cascades(fake: FakeAuthentik) -> None:
    provider = call(fake, "POST", "/providers/proxy/", json=proxy_body(fake)).json()["pk"]
    app = call(
        fake, "POST", "/core/applications/", json={"name": "A", "slug": "a", "provider": provider}
    ).json()
    group = fake.find("group", name="authentik Admins")["pk"]
    call(fake, "POST", "/policies/bindings/", json={"target": app["pk"], "group": group, "order": 0})
    outpost = fake.find("outpost", name="authentik Embedded Outpost")["pk"]

    call(fake, "PATCH", f"/outposts/instances/{outpost}/", json={"providers": [provider]})
    assert fake.find("proxy_provider", pk=provider)["outpost_set"] == ["Outpost authentik Embedded Outpost"]
    assert call(fake, "DELETE", "/core/applications/a/").status_code == 204
    assert fake.store("policy_binding") == []
    assert call(fake, "DELETE", f"/providers/proxy/{provider}/").status_code == 204
    assert fake.find("outpost", pk=outpost)["providers"] == []


# -- fault injection, logging, mapping test ------------------------------------------------


def test_fail_next_injects_a_status_then_an_exception(fake: FakeAuthentik) -> None:
    fake.fail_next("GET", r"^/core/groups/$", status=503, body={"detail": "busy"})
    fake.fail_next("GET", r"^/core/groups/$", exc=requests.ConnectionError)

    assert call(fake, "GET", "/core/groups/").status_code == 503
    with pytest.raises(requests.ConnectionError):
        call(fake, "GET", "/core/groups/")
    assert call(fake, "GET", "/core/groups/").status_code == 200
    assert [r.status for r in fake.requests] == [503, None, 200]


def test_mapping_test_returns_the_set_result_and_is_not_a_write(fake: FakeAuthentik) -> None:
    fake.mapping_test_result = {"ak_proxy": {"is_superuser": True}}
    pk = fake.find("scope_mapping", scope_name="ak_proxy")["pk"]

    body = call(fake, "POST", f"/propertymappings/all/{pk}/test/", json={"user": 1}).json()
    fake.mapping_test_result = RuntimeError("boom")
    failed = call(fake, "POST", f"/propertymappings/all/{pk}/test/", json={}).json()

    assert body == {"result": '{"ak_proxy": {"is_superuser": true}}', "successful": True}
    assert failed == {"result": "boom", "successful": False}
    assert fake.writes == []


def test_api_calls_are_not_logged(fake: FakeAuthentik) -> None:
    fake.api("POST", "/core/groups/", json={"name": "behind"})
    call(fake, "DELETE", f"/core/groups/{fake.find('group', name='behind')['pk']}/")

    assert [(r.method, r.status) for r in fake.writes] == [("DELETE", 204)]


# -- responses match the schema -----------------------------------------------------------


@pytest.mark.parametrize("fake", ALL_RELEASES, indirect=True)
def test_responses_match_the_schema(fake: FakeAuthentik) -> None:
    provider = call(fake, "POST", "/providers/proxy/", json=proxy_body(fake)).json()["pk"]
    app = call(
        fake, "POST", "/core/applications/", json={"name": "A", "slug": "a", "provider": provider}
    ).json()
    group = call(fake, "POST", "/core/groups/", json={"name": "g", "users": [1]}).json()["pk"]
    call(fake, "POST", "/policies/bindings/", json={"target": app["pk"], "group": group, "order": 0})
    mapping = {"name": "m", "scope_name": "m", "expression": "return {}"}
    call(fake, "POST", scope_path(fake), json=mapping)
    for path in (
        "/core/groups/",
        "/core/users/",
        scope_path(fake),
        "/propertymappings/all/",
        "/providers/proxy/",
        "/core/applications/?superuser_full_list=true",
        "/policies/bindings/",
        "/outposts/instances/",
        "/flows/instances/",
        "/crypto/certificatekeypairs/",
        "/admin/version/",
    ):
        assert call(fake, "GET", path).status_code == 200

    assert fake.response_violations == []


# -- the request validator -----------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> RequestValidator:
    return RequestValidator("2025.12")


GROUP = "/core/groups/6f1f2a4e-6c1e-4b43-9d7a-2f1b8f3c9a10/"


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "expected"),
    [
        ("GET", "/core/groups/", {"nmae": ["x"]}, None, "query parameter 'nmae' is not declared"),
        ("GET", "/core/groups/", {"include_users": ["no"]}, None, "not a boolean"),
        ("PATCH", GROUP, {}, {"parent": None}, "body.parent: unknown field"),
        ("PATCH", GROUP, {}, {"num_pk": 3}, "body.num_pk: read-only field"),
        ("PATCH", GROUP, {}, {"users": ["1"]}, "body.users.0: '1' is not of type 'integer'"),
        ("POST", "/core/groups/", {}, {"users": []}, "'name' is a required property"),
        ("DELETE", "/core/groups/", {}, None, "method DELETE not allowed"),
        ("GET", "/propertymappings/scope/", {}, None, "unknown path"),
        ("GET", "/core/groups/not-a-uuid/", {}, None, "not a valid uuid"),
    ],
)
def test_validator_catches(
    validator: RequestValidator, method: str, path: str, query: dict, body: Any, expected: str
) -> None:
    problems = validator.validate(method, path, query, body)

    assert len(problems) == 1, problems
    assert expected in problems[0], problems


def test_validator_accepts_a_valid_request(validator: RequestValidator) -> None:
    body = {"name": "g", "parents": [], "users": [1], "attributes": {"k": "v"}}

    assert validator.validate("PUT", GROUP, {}, body) == []
    assert validator.validate("GET", "/core/groups/", {"include_users": ["false"]}) == []


# -- more release differences --------------------------------------------------------------


@pytest.mark.parametrize("fake", ["2025.8", "2025.10"], indirect=True)
def test_group_put_without_children_detaches_them(fake: FakeAuthentik) -> None:
    parent = call(fake, "POST", "/core/groups/", json={"name": "parent"}).json()["pk"]
    call(fake, "POST", "/core/groups/", json={"name": "child", "parent": parent})

    call(fake, "PUT", f"/core/groups/{parent}/", json={"name": "parent"})

    assert fake.find("group", name="child")["parent"] is None


@pytest.mark.parametrize(
    ("fake", "detail"),
    [("2025.2", "Not found."), ("2025.4", "No Group matches the given query.")],
    indirect=["fake"],
)
def test_404_text_changes_in_2025_4(fake: FakeAuthentik, detail: str) -> None:
    response = call(fake, "GET", "/core/groups/6f1f2a4e-6c1e-4b43-9d7a-2f1b8f3c9a10/")

    assert (response.status_code, response.json()) == (404, {"detail": detail})


def test_unknown_member_username_filter_is_400(fake: FakeAuthentik) -> None:
    response = call(fake, "GET", "/core/groups/", params={"members_by_username": "nobody"})

    assert (response.status_code, list(response.json())) == (400, ["members_by_username"])


def test_proxy_outpost_rejects_other_provider_types(fake: FakeAuthentik) -> None:
    provider = call(fake, "POST", "/providers/proxy/", json=proxy_body(fake)).json()["pk"]
    body = {"name": "ldap", "type": "ldap", "providers": [provider], "config": {}}

    response = call(fake, "POST", "/outposts/instances/", json=body)

    assert (response.status_code, list(response.json())) == (400, ["providers"])
