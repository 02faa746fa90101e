"""Fixes for what a first user ran into: exit codes, TLS settings, odd servers and odd names."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from provision.api.client import AuthentikClient, ConnectionSettings
from provision.api.releases import Release
from provision.errors import SpecError
from provision.plan.build import build_plan
from provision.plan.model import ResourceChange
from provision.spec import load_spec
from provision.state import LiveState
from tests.cli_harness import ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


class RecordingAdapter(requests.adapters.BaseAdapter):
    """Answers every request with an authentik version, keeping the `verify` it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.verify: list[Any] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.verify.append(kwargs.get("verify"))
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"version_current": "2025.12.4"}'
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.mark.parametrize("verify", [False, "/etc/ssl/private-ca.pem"])
def test_tls_settings_beat_environment(monkeypatch: pytest.MonkeyPatch, verify: bool | str) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/somewhere/else.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/somewhere/else.pem")
    adapter = RecordingAdapter()
    session = requests.Session()
    session.mount("https://", adapter)
    client = AuthentikClient(
        ConnectionSettings(url="https://auth.example.com", token="t" * 20, verify=verify), session
    )
    assert client.release == Release(2025, 12, 4)
    assert adapter.verify == [verify]


@pytest.mark.parametrize(
    "args",
    [
        ("drift", "--timeout", "soon", "spec.yaml"),
        ("plan", "--output", "yaml", "spec.yaml"),
        ("drift",),
        ("no-such-command",),
    ],
)
def test_usage_errors_exit_1_not_drift(run: ProvisionRunner, args: tuple[str, ...]) -> None:
    outcome = run(*args)
    assert outcome.exit_code == 1
    assert "Error" in outcome.stderr


def test_shared_provider_rejected_before_writes(
    fake: FakeAuthentik, run: ProvisionRunner, tmp_path: Path
) -> None:
    spec = write(
        tmp_path,
        """
        version: 1
        proxy_providers:
          - name: shared
            mode: forward_single
            external_host: https://s.example.com
            authorization_flow: default-provider-authorization-implicit-consent
        applications:
          - {name: One, slug: one, provider: shared, access: []}
          - {name: Two, slug: two, provider: shared, access: []}
        """,
    )
    outcome = run("apply", "--auto-approve", spec)
    assert outcome.exit_code == 1
    assert (
        "applications[1].provider: proxy provider 'shared' is also the provider of application 'one'"
        in outcome.stderr
    )
    assert fake.writes == []


def _state_with(**indexes: list[dict[str, Any]]) -> LiveState:
    state = LiveState(release=Release(2025, 12, 4), url="https://auth.example.com")
    for name, records in indexes.items():
        getattr(state, name).extend(records)
    state.flows.extend([{"pk": "f1", "slug": "default-provider-authorization-implicit-consent"}])
    state.flows.extend([{"pk": "f2", "slug": "default-provider-invalidation-flow"}])
    return state


def test_provider_name_taken_by_other_type(tmp_path: Path) -> None:
    spec = load_spec(
        write(
            tmp_path,
            """
            version: 1
            proxy_providers:
              - name: Grafana
                mode: forward_single
                external_host: https://g.example.com
                authorization_flow: default-provider-authorization-implicit-consent
            """,
        )
    )
    state = _state_with(
        all_providers=[{"pk": 7, "name": "Grafana", "verbose_name": "OAuth2/OpenID Provider"}]
    )
    with pytest.raises(SpecError) as caught:
        build_plan(spec, state)
    assert "the name 'Grafana' is already used by a OAuth2/OpenID Provider" in str(caught.value)


def test_mapping_name_taken_by_other_type(tmp_path: Path) -> None:
    spec = load_spec(
        write(
            tmp_path,
            "version: 1\nscope_mappings:\n  - {name: Email, scope_name: email, expression: 'return {}'}\n",
        )
    )
    state = _state_with(
        all_mappings=[{"pk": "m", "name": "Email", "verbose_name": "SAML Provider Property Mapping"}]
    )
    with pytest.raises(SpecError) as caught:
        build_plan(spec, state)
    assert "already used by a SAML Provider Property Mapping" in str(caught.value)


def test_non_json_server_is_clear_error(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    fake.fail_next("GET", r"^/admin/version/$", status=200, body="<html>health: ok</html>")
    outcome = run("plan", NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert "did not respond like authentik's API" in outcome.stderr
    assert "Internal error" not in outcome.stderr


def test_redirect_is_clear_error(fake: FakeAuthentik, run: ProvisionRunner) -> None:
    fake.fail_next("GET", r"^/admin/version/$", status=302, body=None)
    outcome = run("plan", NPM_BLUEPRINT)
    assert outcome.exit_code == 1
    assert "was redirected (302)" in outcome.stderr


def test_abort_at_prompt_cancels(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("provision.output.stdin_is_terminal", lambda: True)
    outcome = run("apply", NPM_BLUEPRINT, input="")  # end of input, as Ctrl-D gives
    assert outcome.exit_code == 1
    assert "apply cancelled" in outcome.stderr
    assert fake.writes == []


def test_interrupt_lists_applied(
    fake: FakeAuthentik, run: ProvisionRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provision.resources.proxy_providers import ProxyProviders

    def interrupted(self: ProxyProviders, change: ResourceChange, obj: Any, ctx: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ProxyProviders, "write", interrupted)
    outcome = run("apply", "--auto-approve", NPM_BLUEPRINT)
    assert outcome.exit_code == 130
    assert "Error: interrupted" in outcome.stderr
    assert 'applied: groups["Nginx Proxy Manager admins"], scope_mappings["NginX Token"]' in outcome.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("  - name: 'trailing '", "starts or ends with whitespace"),
        ("  - {name: g, attributes: {x: .inf}}", "inf is not valid JSON"),
    ],
)
def test_values_authentik_would_change(run: ProvisionRunner, tmp_path: Path, line: str, message: str) -> None:
    outcome = run("validate", write(tmp_path, f"version: 1\ngroups:\n{line}\n"))
    assert outcome.exit_code == 1
    assert message in outcome.stderr


def test_hidden_characters_escaped_in_plan(run: ProvisionRunner, tmp_path: Path) -> None:
    outcome = run(
        "plan", "--offline", write(tmp_path, 'version: 1\ngroups:\n  - name: "admins\\u202egpj.exe"\n')
    )
    assert outcome.exit_code == 0, outcome.text
    assert 'groups["admins\\u202egpj.exe"]' in outcome.stdout
    assert "\u202e" not in outcome.stdout
