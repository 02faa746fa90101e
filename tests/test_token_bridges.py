"""`token_bridges` in the spec: expansion into ordinary objects, its errors, the validity
warning, apply against the fake, and `provision test-mapping`."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from provision.spec import load_spec
from provision.spec.presets import PRESETS, PresetName
from tests.cli_harness import CANARY_PASSWORD, CANARY_USERNAME, ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import REPO, write_spec

PORTAINER_BLUEPRINT = REPO / "blueprints" / "portainer.yaml"
NPM_BRIDGE_BLUEPRINT = REPO / "blueprints" / "nginx-proxy-manager-bridge.yaml"
MAPPING = "Nginx Proxy Manager token bridge"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoibnBtIn0.c2lnbmF0dXJl"

SPEC = """\
version: 1
groups:
  - name: NPM admins
    attributes:
      theme: dark
    members: [akadmin]
proxy_providers:
  - name: NPM
    mode: forward_single
    external_host: https://npm.example.com
    authorization_flow: default-provider-authorization-implicit-consent
    access_token_validity: {validity}
token_bridges:
  - name: Nginx Proxy Manager
    preset: nginx-proxy-manager
    url: http://nginx-proxy-manager:81
    group: NPM admins
    provider: NPM
    credentials:
      nginx_username: !env NPM_USERNAME
      nginx_password: !env NPM_PASSWORD
"""

OTHER_MAPPING = """\
scope_mappings:
  - name: {name}
    scope_name: x
    expression: "return {{}}"
"""


@pytest.fixture(autouse=True)
def npm_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPM_USERNAME", CANARY_USERNAME)
    monkeypatch.setenv("NPM_PASSWORD", CANARY_PASSWORD)


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    monkeypatch.setenv("PORTAINER_USERNAME", CANARY_USERNAME)
    monkeypatch.setenv("PORTAINER_PASSWORD", CANARY_PASSWORD)
    return ProvisionRunner(fake, monkeypatch)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return write_spec(tmp_path, SPEC.format(validity="hours=12"))


def test_presets_match_the_schema_names() -> None:
    assert set(get_args(PresetName)) == set(PRESETS)


# -- expansion ------------------------------------------------------------------------------


def test_plan_shows_the_credentials_masked(run: ProvisionRunner, spec: Path) -> None:
    outcome = run("plan", "--offline", spec)

    assert "    attributes.nginx_password: (sensitive)\n" in outcome.stdout


def test_plan_shows_the_mapping(run: ProvisionRunner, spec: Path) -> None:
    outcome = run("plan", "--offline", spec)

    assert f'+ scope_mappings["{MAPPING}"] will be created\n    scope_name: "ak_proxy"\n' in outcome.stdout


def test_plan_wires_the_provider(run: ProvisionRunner, spec: Path) -> None:
    outcome = run("plan", "--offline", spec)

    assert f'    property_mappings: "{MAPPING}"\n' in outcome.stdout


def test_plan_keeps_the_secrets_out(run: ProvisionRunner, spec: Path) -> None:
    outcome = run("plan", "--offline", "--output", "json", spec)

    assert CANARY_PASSWORD not in outcome.text
    assert CANARY_USERNAME not in outcome.text


def test_bridge_keeps_listed_mappings(tmp_path: Path) -> None:
    text = SPEC.format(validity="hours=12").replace(
        "    access_token_validity", "    property_mappings: [Other]\n    access_token_validity"
    )
    text = text.replace("token_bridges:", OTHER_MAPPING.format(name="Other") + "token_bridges:")
    spec_file = load_spec(write_spec(tmp_path, text))

    assert spec_file.spec.proxy_providers[0].property_mappings == ["Other", MAPPING]


def test_generated_problem_points_at_the_bridge(spec: Path) -> None:
    spec_file = load_spec(spec)

    problem = spec_file.problem(("scope_mappings", 0, "expression"), "taken")

    assert (problem.path, problem.line) == ("token_bridges[0]", 14)


@pytest.mark.parametrize("blueprint", [PORTAINER_BLUEPRINT, NPM_BRIDGE_BLUEPRINT], ids=["portainer", "npm"])
def test_blueprint_is_valid(run: ProvisionRunner, blueprint: Path) -> None:
    assert run("validate", blueprint).exit_code == 0


def test_apply_twice_sends_no_writes(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    assert run("apply", "--auto-approve", PORTAINER_BLUEPRINT).exit_code == 0
    fake.reset_log()

    outcome = run("apply", "--auto-approve", PORTAINER_BLUEPRINT)

    assert outcome.exit_code == 0, outcome.text
    assert fake.writes == []


def test_apply_stores_the_wiring(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    run("apply", "--auto-approve", PORTAINER_BLUEPRINT)

    mapping = fake.find("scope_mapping", name="Portainer token bridge")
    assert mapping["pk"] in fake.find("proxy_provider", name="Portainer")["property_mappings"]


def test_apply_stores_the_credentials(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    run("apply", "--auto-approve", PORTAINER_BLUEPRINT)

    assert fake.find("group", name="Portainer admins")["attributes"] == {
        "portainer_username": CANARY_USERNAME,
        "portainer_password": CANARY_PASSWORD,
    }


# -- the token lifetime ---------------------------------------------------------------------------


@pytest.mark.parametrize(("validity", "warned"), [("hours=36", True), ("days=1", False), ("hours=12", False)])
def test_validity_warning(run: ProvisionRunner, tmp_path: Path, validity: str, warned: bool) -> None:
    outcome = run("plan", "--offline", write_spec(tmp_path, SPEC.format(validity=validity)))

    assert ("is longer than the token lifetime days=1" in outcome.stdout) is warned


def test_declared_lifetime_wins(run: ProvisionRunner, tmp_path: Path) -> None:
    text = SPEC.format(validity="hours=12").replace(
        "    group: NPM", "    token_lifetime: hours=1\n    group: NPM"
    )

    outcome = run("plan", "--offline", write_spec(tmp_path, text))

    assert "is longer than the token lifetime hours=1" in outcome.stdout


# -- mistakes -------------------------------------------------------------------------------------

MISTAKES = [
    ("preset: nginx-proxy-manager", "preset: npm", "token_bridges[0].preset: invalid value", 15),
    (
        "provider: NPM\n    credentials",
        "provider: Nope\n    credentials",
        "proxy provider 'Nope' is not in",
        18,
    ),
    ("group: NPM admins\n", "group: Elsewhere\n", "group 'Elsewhere' is not in the spec's groups", 17),
    ("      theme: dark", "      nginx_password: other", "already sets attribute 'nginx_password'", 21),
    ("      nginx_password: !env", "      nginx_pasword: !env", "credential 'nginx_pasword' is not used", 21),
    (
        "    url: http://nginx",
        "    header: X_Token\n    url: http://nginx",
        "header 'X_Token' contains _",
        16,
    ),
    ("    url: http://nginx-proxy-manager:81", "    url: nginx:81", "url must be the app's base URL", 16),
    ("    url: http", "    timeout: 90\n    url: http", "timeout must be seconds above 0", 16),
    (
        "    preset: nginx-proxy-manager\n",
        "",
        "without a preset, set login_path, body, token_path, header",
        14,
    ),
]


@pytest.mark.parametrize(("old", "new", "message", "line"), MISTAKES, ids=[m[2][:28] for m in MISTAKES])
def test_mistake_is_located(
    run: ProvisionRunner, tmp_path: Path, old: str, new: str, message: str, line: int
) -> None:
    text = SPEC.format(validity="hours=12")
    assert old in text
    spec = write_spec(tmp_path, text.replace(old, new, 1))

    outcome = run("validate", spec)

    assert outcome.exit_code == 1
    assert message in outcome.stderr
    assert f"spec.yaml:{line}:" in outcome.stderr


BODY_MISTAKES = [
    ('{"user": "{app user}"}', "has a brace that is not a placeholder"),
    ('{"user": "fixed"}', "body refers to no attribute"),
    ('{"user": "{a}", "password": !env NPM_PASSWORD}', "body must not hold !env or !file values"),
]


@pytest.mark.parametrize(("body", "message"), BODY_MISTAKES, ids=["brace", "no-attribute", "secret"])
def test_body_mistake(run: ProvisionRunner, tmp_path: Path, body: str, message: str) -> None:
    text = SPEC.format(validity="hours=12").replace(
        "    preset: nginx-proxy-manager\n",
        f"    login_path: /login\n    token_path: token\n    header: X-Token\n    body: {body}\n",
    )

    outcome = run("validate", write_spec(tmp_path, text))

    assert message in outcome.stderr


def test_unset_attribute_is_an_error(run: ProvisionRunner, tmp_path: Path) -> None:
    text = SPEC.format(validity="hours=12").replace("      nginx_password: !env NPM_PASSWORD\n", "")

    outcome = run("validate", write_spec(tmp_path, text))

    assert "sets no attribute nginx_password, which the body reads" in outcome.stderr


def test_mapping_name_taken(run: ProvisionRunner, tmp_path: Path) -> None:
    text = SPEC.format(validity="hours=12").replace(
        "token_bridges:", OTHER_MAPPING.format(name=MAPPING) + "token_bridges:"
    )

    outcome = run("validate", write_spec(tmp_path, text))

    assert f"the bridge's scope mapping '{MAPPING}' is already in scope_mappings" in outcome.stderr


def test_shared_attribute_across_groups(run: ProvisionRunner, tmp_path: Path) -> None:
    second = """\
  - name: Second NPM
    preset: nginx-proxy-manager
    url: http://npm2:81
    group: Other admins
    provider: NPM
    header: X-Second-Token
"""
    text = SPEC.format(validity="hours=12").replace("groups:\n", "groups:\n  - name: Other admins\n") + second

    outcome = run("validate", write_spec(tmp_path, text))

    assert "attribute 'nginx_username' is also read by token bridge 'Nginx Proxy Manager'" in outcome.stderr


# -- test-mapping -----------------------------------------------------------------------------------


@pytest.fixture
def applied(fake: FakeAuthentik, run: ProvisionRunner) -> FakeAuthentik:
    outcome = run("apply", "--auto-approve", NPM_BRIDGE_BLUEPRINT)
    assert outcome.exit_code == 0, outcome.text
    return fake


def check_mapping(run: ProvisionRunner) -> tuple[int, str]:
    outcome = run("test-mapping", NPM_BRIDGE_BLUEPRINT, "--mapping", MAPPING, "--user", "akadmin")
    return outcome.exit_code, outcome.text


HEADERS = {"ak_proxy": {"user_attributes": {"additionalHeaders": {"X-Nginx-Token": TOKEN}}}}


def test_mapping_success_exits_0(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    applied.mapping_test_result = HEADERS

    assert check_mapping(run)[0] == 0


def test_mapping_shows_the_header_masked(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    applied.mapping_test_result = HEADERS

    assert f"  X-Nginx-Token: (token, {len(TOKEN)} characters)\n" in check_mapping(run)[1]


def test_mapping_never_shows_the_token(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    applied.mapping_test_result = HEADERS

    assert TOKEN not in check_mapping(run)[1]


def test_mapping_never_shows_the_credentials(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    applied.mapping_test_result = RuntimeError(f"login failed for {CANARY_USERNAME} with {CANARY_PASSWORD}")

    text = check_mapping(run)[1]

    assert CANARY_PASSWORD not in text
    assert CANARY_USERNAME not in text


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (["a", "list"], "the mapping returned a list, not a mapping"),
        (None, "the mapping returned null, not a mapping"),
        ({}, "the token bridge sent no X-Nginx-Token header"),
        ({"ak_proxy": {"user_attributes": {"additionalHeaders": {"X-Other": "x"}}}}, "sent no X-Nginx-Token"),
        (ValueError("boom in line 3"), "authentik could not evaluate the mapping"),
    ],
    ids=["list", "null", "empty", "other-header", "failed"],
)
def test_mapping_failure_exits_1(
    applied: FakeAuthentik, run: ProvisionRunner, result: object, message: str
) -> None:
    applied.mapping_test_result = result

    exit_code, text = check_mapping(run)

    assert exit_code == 1
    assert message in text


def test_mapping_failure_shows_authentik_error(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    applied.mapping_test_result = ValueError("boom in line 3")

    assert "  boom in line 3\n" in check_mapping(run)[1]


def test_mapping_sends_the_user_pk(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    applied.mapping_test_result = HEADERS
    applied.reset_log()

    check_mapping(run)

    [sent] = [r for r in applied.requests if r.path.endswith("/test/")]
    assert sent.body == {"user": applied.find("user", username="akadmin")["pk"]}


def test_mapping_unknown_user_exits_1(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("test-mapping", NPM_BRIDGE_BLUEPRINT, "--mapping", MAPPING, "--user", "nobody")

    assert outcome.exit_code == 1
    assert "user 'nobody' not found in authentik" in outcome.stderr


def test_mapping_unknown_mapping_exits_1(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    outcome = run("test-mapping", NPM_BRIDGE_BLUEPRINT, "--mapping", "Nope", "--user", "akadmin")

    assert outcome.exit_code == 1
    assert "scope mapping 'Nope' not found in authentik" in outcome.stderr


def test_mapping_without_bridge_needs_no_header(applied: FakeAuthentik, run: ProvisionRunner) -> None:
    applied.mapping_test_result = {"email": "x"}
    name = "authentik default OAuth Mapping: OpenID 'email'"

    outcome = run("test-mapping", NPM_BRIDGE_BLUEPRINT, "--mapping", name, "--user", "akadmin")

    assert outcome.exit_code == 0, outcome.text
