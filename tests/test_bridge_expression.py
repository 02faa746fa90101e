"""The expression a token bridge generates, run as authentik runs it against a stand-in app on 127.0.0.1.

Every case runs for every preset: the preset's own request, reply and error shapes
(read from the apps' sources, see provision/spec/presets.py) are in PRESET_CASES.
"""

from __future__ import annotations

import ast
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from provision.spec import load_spec
from provision.spec.bridge_expression import BridgeParameters, render_expression
from provision.spec.presets import PRESETS
from tests.app_standin import AppStandIn, Reply, app_standin, json_reply
from tests.expression_harness import Evaluation, FakeGroup, FakeUser, evaluate_scope_mapping, wrap

USERNAME = "service@example.com"
PASSWORD = "s3cret-Pa55word"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoic2VydmljZSJ9.c2lnbmF0dXJl"

pytestmark = [pytest.mark.loopback, pytest.mark.enable_socket]


@dataclass(frozen=True)
class PresetCase:
    preset: str
    path: str
    sent: dict[str, str]
    success: dict[str, Any]
    rejected: Reply
    app_message: str


PRESET_CASES = [
    PresetCase(
        preset="nginx-proxy-manager",
        path="/api/tokens",
        sent={"identity": USERNAME, "secret": PASSWORD},
        success={"token": TOKEN, "expires": "2030-01-01T00:00:00.000Z"},
        rejected=json_reply(400, {"error": {"code": 400, "message": "Invalid email or password"}}),
        app_message="Invalid email or password",
    ),
    PresetCase(
        preset="portainer",
        path="/api/auth",
        sent={"username": USERNAME, "password": PASSWORD},
        success={"jwt": TOKEN},
        rejected=json_reply(422, {"message": "Invalid credentials", "details": "Unauthorized"}),
        app_message="Invalid credentials",
    ),
]


def write_bridge_spec(directory: Path, url: str, **bridge: Any) -> Path:
    spec = {
        "version": 1,
        "groups": [{"name": "app-admins"}],
        "proxy_providers": [
            {
                "name": "app",
                "mode": "forward_single",
                "external_host": "https://app.example.com",
                "authorization_flow": "default-provider-authorization-implicit-consent",
            }
        ],
        "token_bridges": [{"name": "App", "url": url, "group": "app-admins", "provider": "app", **bridge}],
    }
    path = directory / "spec.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
    return path


def bridge_expression(directory: Path, url: str, **bridge: Any) -> str:
    spec_file = load_spec(write_bridge_spec(directory, url, **bridge))
    return str(spec_file.expressions["App token bridge"])


def member(case: PresetCase, **extra: Any) -> FakeUser:
    names = [name.strip("{}") for name in PRESETS[case.preset].body.values()]
    attributes = {names[0]: USERNAME, names[1]: PASSWORD, **extra}
    return FakeUser(username="alice", groups=[FakeGroup("app-admins", attributes)])


def run(expression: str, user: FakeUser) -> Evaluation:
    evaluation = evaluate_scope_mapping(expression, user, mapping_name="App token bridge")
    assert isinstance(evaluation.result, dict)
    assert PASSWORD not in evaluation.logger.text()
    assert TOKEN not in evaluation.logger.text()
    return evaluation


def warnings_of(evaluation: Evaluation) -> list[str]:
    return [record.event for record in evaluation.logger.records if record.level == "warning"]


@pytest.fixture
def app() -> Iterator[AppStandIn]:
    with app_standin() as stand_in:
        yield stand_in


@pytest.fixture(params=PRESET_CASES, ids=[case.preset for case in PRESET_CASES])
def case(request: pytest.FixtureRequest) -> PresetCase:
    preset_case: PresetCase = request.param
    return preset_case


@pytest.fixture
def expression(tmp_path: Path, app: AppStandIn, case: PresetCase) -> str:
    return bridge_expression(tmp_path, app.url, preset=case.preset, timeout=0.3)


def test_success_returns_the_header(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = json_reply(200, case.success)

    evaluation = run(expression, member(case))

    header = PRESETS[case.preset].header
    assert evaluation.result == {"ak_proxy": {"user_attributes": {"additionalHeaders": {header: TOKEN}}}}
    assert warnings_of(evaluation) == []


def test_success_sends_the_preset_login(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = json_reply(200, case.success)

    run(expression, member(case))

    assert app.received == [{"method": "POST", "path": case.path, "body": case.sent}]


def test_wrong_password_returns_empty(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = case.rejected

    evaluation = run(expression, member(case))

    assert evaluation.result == {}
    assert warnings_of(evaluation) == [
        "token bridge: the app rejected the login, check the credential attributes"
    ]
    assert evaluation.logger.records[-1].fields["app_message"] == case.app_message


def test_timeout_returns_empty(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = json_reply(200, case.success)
    app.reply.delay = 0.8

    started = time.monotonic()
    evaluation = run(expression, member(case))

    assert time.monotonic() - started < 0.7
    assert evaluation.result == {}
    assert warnings_of(evaluation) == ["token bridge: login timed out"]


def test_app_down_returns_empty(tmp_path: Path, case: PresetCase) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    expression = bridge_expression(tmp_path, f"http://127.0.0.1:{closed_port}", preset=case.preset)

    evaluation = run(expression, member(case))

    assert evaluation.result == {}
    assert warnings_of(evaluation) == ["token bridge: login request failed"]
    assert evaluation.logger.records[-1].fields["error"] == "ConnectionError"


def test_non_json_reply_returns_empty(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = Reply(status=200, body=b"<html>login</html>", content_type="text/html")

    evaluation = run(expression, member(case))

    assert evaluation.result == {}
    assert warnings_of(evaluation) == ["token bridge: login response is not a JSON object"]


def test_missing_token_returns_empty(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = json_reply(200, {"requires_2fa": True})

    evaluation = run(expression, member(case))

    assert evaluation.result == {}
    assert warnings_of(evaluation) == ["token bridge: login response has no token"]
    assert evaluation.logger.records[-1].fields["keys"] == ["requires_2fa"]


def test_server_error_returns_empty(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = Reply(status=502, body=b"Bad Gateway", content_type="text/plain")

    evaluation = run(expression, member(case))

    assert warnings_of(evaluation) == [
        "token bridge: login returned an unexpected status, check the login URL"
    ]


def test_redirect_is_not_followed(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = json_reply(302, {})

    run(expression, member(case))

    assert len(app.received) == 1


def test_non_member_gets_no_header(app: AppStandIn, case: PresetCase, expression: str) -> None:
    evaluation = run(expression, FakeUser(username="bob", groups=[FakeGroup("staff", {"theme": "dark"})]))

    assert evaluation.result == {}
    assert warnings_of(evaluation) == []
    assert app.received == []


def test_empty_attribute_skips_the_login(app: AppStandIn, case: PresetCase, expression: str) -> None:
    user = member(case)
    password_attribute = PRESETS[case.preset].body[list(PRESETS[case.preset].body)[1]].strip("{}")
    user.groups[0].attributes[password_attribute] = " "

    evaluation = run(expression, user)

    assert evaluation.logger.records[-1].fields["missing"] == [password_attribute]
    assert app.received == []


def test_echoed_password_is_masked(app: AppStandIn, case: PresetCase, expression: str) -> None:
    app.reply = json_reply(400, {"message": f"no user with password {PASSWORD}"})

    evaluation = run(expression, member(case))

    assert evaluation.logger.records[-1].fields["app_message"] == "no user with password ***"


# -- explicit bridges: dotted token paths and the body template -------------------------------


def explicit_user() -> FakeUser:
    return FakeUser(groups=[FakeGroup("app-admins", {"app_user": USERNAME, "app_password": PASSWORD})])


@pytest.fixture
def explicit(tmp_path: Path, app: AppStandIn) -> str:
    return bridge_expression(
        tmp_path,
        app.url + "/",
        login_path="/oauth/token",
        method="PUT",
        body={
            "grant": "password",
            "login": "{app_user}:{app_password}",
            "literal": "{{not a placeholder}}",
            "nested": {"list": ["{app_user}", 3, True, None]},
        },
        token_path="data.0.access_token",
        header="X-App-Token",
    )


def test_dotted_path_finds_the_token(app: AppStandIn, explicit: str) -> None:
    app.reply = json_reply(200, {"data": [{"access_token": TOKEN}]})

    evaluation = run(explicit, explicit_user())

    assert evaluation.result == {
        "ak_proxy": {"user_attributes": {"additionalHeaders": {"X-App-Token": TOKEN}}}
    }


def test_body_template_is_filled(app: AppStandIn, explicit: str) -> None:
    app.reply = json_reply(200, {"data": [{"access_token": TOKEN}]})

    run(explicit, explicit_user())

    assert app.received == [
        {
            "method": "PUT",
            "path": "/oauth/token",
            "body": {
                "grant": "password",
                "login": f"{USERNAME}:{PASSWORD}",
                "literal": "{not a placeholder}",
                "nested": {"list": [USERNAME, 3, True, None]},
            },
        }
    ]


def test_token_of_wrong_type_returns_empty(app: AppStandIn, explicit: str) -> None:
    app.reply = json_reply(200, {"data": {"access_token": 12}})

    evaluation = run(explicit, explicit_user())

    assert warnings_of(evaluation) == ["token bridge: login response has no token"]


# -- hostile values stay inside their literals ----------------------------------------------------

HOSTILE = 'x"""\n\'\'\'\\"; import os; os.system("id") #\r\u2028}'


def _shape(expression: str) -> str:
    """The expression's syntax tree with every constant blanked: its code, without its data."""
    tree = ast.parse(wrap(expression))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            node.value = None
    return ast.dump(tree)


def _parameters(text: str) -> BridgeParameters:
    return BridgeParameters(
        app=text,
        login_url=f"http://127.0.0.1:9/{text}",
        method="POST",
        body={text: f"{text}{{app_user}}", "list": [text]},
        attributes=("app_user",),
        token_path=(text, "token"),
        header="X-App-Token",
        timeout=5.0,
    )


def _constant(expression: str, name: str) -> Any:
    for node in ast.walk(ast.parse(wrap(expression))):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} is not assigned")


def test_hostile_values_leave_the_code_alone() -> None:
    assert _shape(render_expression(_parameters(HOSTILE))) == _shape(render_expression(_parameters("plain")))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("APP", HOSTILE),
        ("LOGIN_URL", f"http://127.0.0.1:9/{HOSTILE}"),
        ("BODY", {HOSTILE: f"{HOSTILE}{{app_user}}", "list": [HOSTILE]}),
        ("TOKEN_PATH", (HOSTILE, "token")),
    ],
)
def test_hostile_values_arrive_intact(name: str, expected: Any) -> None:
    assert _constant(render_expression(_parameters(HOSTILE)), name) == expected


def test_hostile_bridge_name_runs(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    spec = write_bridge_spec(
        tmp_path,
        f"http://127.0.0.1:{closed_port}",
        login_path="/a'b\"c\\d",
        body={"user": "{app_user}", "password": "{app_password}"},
        token_path='to"ken',
        header="X-App-Token",
    )
    data = json.loads(spec.read_text())
    data["token_bridges"][0]["name"] = HOSTILE.replace("\r", "").replace("\u2028", "")
    spec.write_text(json.dumps(data))
    spec_file = load_spec(spec)
    [bridge] = spec_file.bridges

    evaluation = run(str(spec_file.expressions[bridge.mapping]), explicit_user())

    assert evaluation.logger.records[-1].fields["app"] == bridge.name
