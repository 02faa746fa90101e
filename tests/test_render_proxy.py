"""`provision render proxy`: nginx, NPM, Traefik and Caddy configuration for a forward-auth provider."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.cli_harness import CANARY_PASSWORD, CANARY_USERNAME, ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT, REPO, write_spec

PROVIDER = "Nginx Proxy Manager"
GUIDE = (REPO / "docs" / "nginx-proxy-manager.md").read_text(encoding="utf-8")


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


def _guide_block(after_heading: str) -> str:
    """The first ```nginx block after a heading of docs/nginx-proxy-manager.md."""
    section = GUIDE[GUIDE.index(after_heading) :]
    match = re.search(r"```nginx\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def _render(run: ProvisionRunner, flavor: str, *options: str) -> str:
    outcome = run("render", "proxy", NPM_BLUEPRINT, "--provider", PROVIDER, "--flavor", flavor, *options)
    assert outcome.exit_code == 0, outcome.text
    assert CANARY_PASSWORD not in outcome.text and CANARY_USERNAME not in outcome.text
    return outcome.stdout


def test_npm_equals_guide(run: ProvisionRunner) -> None:
    assert _render(run, "npm") == _guide_block("## NPM side: the proxy host")


def test_nginx_equals_guide(run: ProvisionRunner) -> None:
    stdout = _render(run, "nginx", "--upstream", "http://nginx-proxy-manager:81")

    assert stdout == _guide_block("## Plain nginx")


def test_nginx_needs_upstream(run: ProvisionRunner) -> None:
    outcome = run("render", "proxy", NPM_BLUEPRINT, "--provider", PROVIDER, "--flavor", "nginx")

    assert outcome.exit_code == 1
    assert "has no internal_host, so the upstream is unknown" in outcome.stderr
    assert "--upstream" in outcome.stderr


def test_token_header_option(run: ProvisionRunner) -> None:
    stdout = _render(run, "npm", "--token-header", "X-App-Token")

    assert "auth_request_set $authentik_app_token $upstream_http_x_app_token;" in stdout
    assert 'proxy_set_header Authorization "Bearer $authentik_app_token";' in stdout


def test_no_token_header_without_ak_proxy_mapping(run: ProvisionRunner, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
        version: 1
        proxy_providers:
          - name: plain
            mode: forward_single
            external_host: https://app.example.com
            authorization_flow: default-provider-authorization-implicit-consent
        """,
    )
    outcome = run("render", "proxy", spec, "--provider", "plain", "--flavor", "npm")

    assert outcome.exit_code == 0, outcome.text
    assert "Authorization" not in outcome.stdout
    assert "authentik-sso" not in outcome.stdout


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--provider", "nope"], "no proxy provider named 'nope'"),
        (["--provider", PROVIDER, "--token-header", "bad header"], "is not a header name"),
        (["--provider", PROVIDER, "--outpost-url", "authentik:9000"], "--outpost-url must be"),
    ],
)
def test_proxy_errors(run: ProvisionRunner, options: list[str], message: str) -> None:
    outcome = run("render", "proxy", NPM_BLUEPRINT, "--flavor", "npm", *options)

    assert outcome.exit_code == 1
    assert message in outcome.stderr
    assert "Traceback" not in outcome.text


def test_traefik_middleware(run: ProvisionRunner) -> None:
    stdout = _render(run, "traefik", "--upstream", "http://npm:81")
    http = yaml.safe_load(stdout)["http"]

    forward = http["middlewares"]["authentik"]["forwardAuth"]
    assert forward["address"] == "http://authentik-server:9000/outpost.goauthentik.io/auth/traefik"
    assert "X-Nginx-Token" in forward["authResponseHeaders"]
    assert "X-authentik-jwt" not in forward["authResponseHeaders"]
    assert http["routers"]["app"]["rule"] == "Host(`npm.example.com`)"
    assert http["routers"]["app"]["middlewares"] == ["authentik"]
    assert http["services"]["app"]["loadBalancer"]["servers"] == [{"url": "http://npm:81"}]
    assert "cannot rewrite it into `Authorization: Bearer <token>`" in stdout


def test_caddy_forward_auth(run: ProvisionRunner) -> None:
    stdout = _render(run, "caddy", "--upstream", "http://npm:81", "--outpost-url", "http://outpost:9000")
    lines = [line.strip() for line in stdout.splitlines()]

    assert "npm.example.com {" in lines
    assert sum(line.endswith(" {") for line in lines) == lines.count("}")  # every block closed
    assert "reverse_proxy /outpost.goauthentik.io/* http://outpost:9000" in lines
    assert "forward_auth http://outpost:9000 {" in lines
    assert "uri /outpost.goauthentik.io/auth/caddy" in lines
    copy = next(line for line in lines if line.startswith("copy_headers "))
    assert copy.split()[1:3] == ["X-Authentik-Username", "X-Authentik-Groups"]
    assert copy.endswith(" X-Nginx-Token") and "Jwt" not in copy
    assert 'header_up Authorization "Bearer {http.request.header.X-Nginx-Token}"' in lines
    assert lines.index("request_header -X-Nginx-Token") < lines.index("forward_auth http://outpost:9000 {")


def _nginx_binary() -> str:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed (.ci/run installs Debian's nginx-light)")
    return nginx


def _nginx_test(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "logs").mkdir()
    path = tmp_path / "nginx.conf"
    path.write_text(config, encoding="utf-8")
    return subprocess.run(
        [_nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def _wrap(http_body: str, tmp_path: Path) -> str:
    temp = tmp_path / "temp"
    return (
        "pid nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n"
        f"access_log off;\nclient_body_temp_path {temp};\nproxy_temp_path {temp};\n"
        f"fastcgi_temp_path {temp};\nuwsgi_temp_path {temp};\nscgi_temp_path {temp};\n"
        f"{http_body}\n}}\n"
    )


def _self_signed(tmp_path: Path, config: str) -> str:
    """Point the certificate lines at a fresh self-signed pair (or drop TLS without openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        config = re.sub(r"\n\s*ssl_certificate(_key)?\s[^\n]*", "", config)
        return config.replace("listen                  443 ssl;", "listen 127.0.0.1:18443;")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=npm.example.com",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=True,
    )
    config = re.sub(r"ssl_certificate \s*\S+;", f"ssl_certificate {cert};", config)
    config = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", config)
    return config.replace("listen                  443 ssl;", "listen 127.0.0.1:18443 ssl;")


def _http2_for(nginx: str, config: str) -> str:
    """`http2 on;` needs nginx 1.25.1; older ones (Debian 12 has 1.22) get the line removed."""
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version)
    if found and tuple(int(part) for part in found.groups()) < (1, 25, 1):
        return re.sub(r"\n\s*http2\s+on;[^\n]*", "", config)
    return config


@pytest.mark.loopback
def test_nginx_config_passes_nginx_t(run: ProvisionRunner, tmp_path: Path) -> None:
    nginx = _nginx_binary()
    stdout = _render(
        run, "nginx", "--upstream", "http://127.0.0.1:18081", "--outpost-url", "http://127.0.0.1:19000"
    )
    config = _http2_for(nginx, _self_signed(tmp_path, stdout))

    result = _nginx_test(_wrap(config, tmp_path), tmp_path)

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


@pytest.mark.loopback
def test_npm_config_passes_nginx_t(run: ProvisionRunner, tmp_path: Path) -> None:
    stdout = _render(run, "npm", "--outpost-url", "http://127.0.0.1:19000")
    # NPM puts the Advanced text into its proxy host's server block, which sets these variables.
    server = (
        "server {\nlisten 127.0.0.1:18080;\nserver_name npm.example.com;\n"
        "set $forward_scheme http;\nset $server 127.0.0.1;\nset $port 18081;\n"
        f"{stdout}}}"
    )

    result = _nginx_test(_wrap(server, tmp_path), tmp_path)

    assert result.returncode == 0, result.stderr
