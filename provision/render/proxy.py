"""Reverse-proxy configuration for a forward-auth proxy provider of the spec.

Four flavours: plain nginx (a `server` block), Nginx Proxy Manager (the text of a
proxy host's Advanced tab), Traefik (dynamic configuration) and Caddy (a site
block). nginx and NPM follow docs/nginx-proxy-manager.md line for line; Traefik
and Caddy follow authentik's own examples (`website/docs/add-secure-apps/
providers/proxy/_traefik_standalone.md` and `_caddy_standalone.md` at
`version/2025.12.4`). None of them forwards `X-authentik-jwt`: it carries every
group attribute, passwords included.

A header that an `ak_proxy` scope mapping adds (`additionalHeaders`) is passed to
the upstream as `Authorization: Bearer <value>`, where the flavour can do that.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from provision.errors import ProvisionError
from provision.secrets import Secret

if TYPE_CHECKING:
    # The CLI imports this module for its option types; pydantic and PyYAML load on use.
    from provision.spec.load import SpecFile
    from provision.spec.models import ProxyProviderSpec

DEFAULT_OUTPOST_URL = "http://authentik-server:9000"
SIGN_IN_PATH = "/authentik-sso"
HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_ADDITIONAL_HEADERS = re.compile(r"""["']additionalHeaders["']\s*:\s*\{(?P<body>[^{}]*)\}""")
_HEADER_KEY = re.compile(r"""["'](?P<name>[A-Za-z0-9-]+)["']\s*:""")

# The outpost's response headers, as authentik's Traefik and Caddy examples list them,
# without X-authentik-jwt (see the module docstring).
AUTHENTIK_HEADERS = (
    "X-authentik-username",
    "X-authentik-groups",
    "X-authentik-entitlements",
    "X-authentik-email",
    "X-authentik-name",
    "X-authentik-uid",
    "X-authentik-meta-jwks",
    "X-authentik-meta-outpost",
    "X-authentik-meta-provider",
    "X-authentik-meta-app",
    "X-authentik-meta-version",
)


class Flavor(enum.StrEnum):
    nginx = "nginx"
    npm = "npm"
    traefik = "traefik"
    caddy = "caddy"


@dataclass(frozen=True)
class ProxySite:
    """What a proxy configuration needs to know about one provider."""

    provider: str
    host: str
    https: bool
    outpost_url: str
    upstream: str | None
    token_header: str | None
    sign_in_page: bool


class ProxyConfigError(ProvisionError):
    """The provider or the options do not allow a proxy configuration."""


def proxy_site(
    spec_file: SpecFile,
    provider_name: str,
    *,
    outpost_url: str = DEFAULT_OUTPOST_URL,
    upstream: str | None = None,
    token_header: str | None = None,
) -> ProxySite:
    """Collect the provider's host, upstream and token header; raise `ProxyConfigError` if one is missing."""
    provider = _provider(spec_file, provider_name)
    if isinstance(provider.external_host, Secret):
        raise ProxyConfigError(
            f"the external_host of provider {provider_name!r} is a secret, so it cannot be written out"
        )
    external = urlsplit(provider.external_host)
    if token_header is not None and not HEADER_NAME.match(token_header):
        raise ProxyConfigError(f"--token-header {token_header!r} is not a header name")
    _check_url(outpost_url, "--outpost-url")
    if upstream is not None:
        _check_url(upstream, "--upstream")
    elif isinstance(provider.internal_host, str) and provider.internal_host:
        upstream = provider.internal_host
    return ProxySite(
        provider=provider_name,
        host=external.netloc,
        https=external.scheme == "https",
        outpost_url=outpost_url.rstrip("/"),
        upstream=upstream.rstrip("/") if upstream else None,
        token_header=token_header or _token_header(spec_file, provider),
        sign_in_page=_has_sign_in_page(spec_file, provider_name),
    )


def _provider(spec_file: SpecFile, name: str) -> ProxyProviderSpec:
    providers = {provider.name: provider for provider in spec_file.spec.proxy_providers}
    if name not in providers:
        known = ", ".join(repr(known) for known in providers) or "none"
        raise ProxyConfigError(
            f"no proxy provider named {name!r} in {spec_file.path}", hint=f"Providers in the spec: {known}."
        )
    provider = providers[name]
    if provider.mode in (None, "proxy"):
        raise ProxyConfigError(
            f"provider {name!r} is in mode `proxy`: the outpost itself forwards to internal_host, "
            "so a forward-auth configuration does not apply",
            hint="Point your reverse proxy at the outpost, or set mode forward_single.",
        )
    return provider


def _check_url(url: str, option: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProxyConfigError(f"{option} must be an http:// or https:// URL, got {url!r}")


def _token_header(spec_file: SpecFile, provider: ProxyProviderSpec) -> str | None:
    """Find the one header that the provider's `ak_proxy` scope mappings add, if any."""
    by_name = {mapping.name: mapping for mapping in spec_file.spec.scope_mappings}
    names: list[str] = []
    for mapping_name in provider.property_mappings or []:
        mapping = by_name.get(mapping_name)
        if mapping is None or mapping.scope_name != "ak_proxy":
            continue
        expression = spec_file.expressions[mapping_name]
        if isinstance(expression, Secret):
            raise ProxyConfigError(
                f"the expression of scope mapping {mapping_name!r} is a secret, so its header is unknown",
                hint="Name the header with --token-header.",
            )
        for block in _ADDITIONAL_HEADERS.finditer(expression):
            names += [key.group("name") for key in _HEADER_KEY.finditer(block.group("body"))]
    unique = sorted(set(names))
    if len(unique) > 1:
        raise ProxyConfigError(
            f"the ak_proxy scope mappings of provider {provider.name!r} add several headers: {', '.join(unique)}",
            hint="Pick the one to send as `Authorization: Bearer` with --token-header.",
        )
    return unique[0] if unique else None


def _has_sign_in_page(spec_file: SpecFile, provider_name: str) -> bool:
    """Tell whether the provider's application launches at /authentik-sso (the NPM sign-in page)."""
    return any(
        application.provider == provider_name
        and isinstance(application.launch_url, str)
        and urlsplit(application.launch_url).path == SIGN_IN_PATH
        for application in spec_file.spec.applications
    )


def render_proxy(site: ProxySite, flavor: Flavor) -> str:
    if flavor is Flavor.npm:
        return _npm(site)
    if site.upstream is None:
        raise ProxyConfigError(
            f"provider {site.provider!r} has no internal_host, so the upstream is unknown",
            hint="Pass the application's address with --upstream http://app:8080.",
        )
    renderers = {Flavor.nginx: _nginx, Flavor.traefik: _traefik, Flavor.caddy: _caddy}
    return renderers[flavor](site)


# -- nginx and Nginx Proxy Manager ---------------------------------------------------


def _nginx_variable(header: str) -> str:
    """Convert `X-Nginx-Token` to `nginx_token`, the name nginx uses after `$upstream_http_x_`."""
    return header.lower().removeprefix("x-").replace("-", "_")


def _token_lines(site: ProxySite, *, comment: bool) -> list[str]:
    if site.token_header is None:
        return []
    name = _nginx_variable(site.token_header)
    lines = ["", *(_token_comment(site.token_header) if comment else [])]
    return [
        *lines,
        f"auth_request_set $authentik_{name} $upstream_http_x_{name};",
        f'proxy_set_header Authorization "Bearer $authentik_{name}";',
    ]


def _token_comment(header: str) -> list[str]:
    if header == "X-Nginx-Token":
        return [
            '# NPM\'s API token from the "ak_proxy" scope mapping. It replaces any Authorization',
            "# header that the browser sends.",
        ]
    return [
        f'# The {header} header from the "ak_proxy" scope mapping, as a bearer token. It replaces',
        "# any Authorization header that the browser sends.",
    ]


def _indent(lines: list[str], depth: int) -> list[str]:
    return [("    " * depth + line) if line else "" for line in lines]


def _npm(site: ProxySite) -> str:
    location = _NPM_LOCATION.rstrip("\n").split("\n") + _indent(_token_lines(site, comment=True), 1) + ["}"]
    parts = [_NPM_PREAMBLE, "\n".join(location) + "\n"]
    if site.sign_in_page:
        parts.append(_NPM_SIGN_IN)
    parts.append(_NPM_OUTPOST % {"outpost": site.outpost_url})
    parts.append(_SIGN_IN_REDIRECT)
    return "\n".join(parts)


def _nginx(site: ProxySite) -> str:
    assert site.upstream is not None
    host = urlsplit(f"//{site.host}").hostname or site.host
    server = [
        "server {",
        *(_TLS_LISTEN % {"host": host} if site.https else _PLAIN_LISTEN % {"host": host})
        .rstrip("\n")
        .split("\n"),
        "",
        "    proxy_buffers 8 16k;",
        "    proxy_buffer_size 32k;",
        "",
        *(_NGINX_LOCATION % {"upstream": site.upstream}).rstrip("\n").split("\n"),
        *_indent(_token_lines(site, comment=False), 2),
        "    }",
    ]
    if site.sign_in_page:
        server += ["", *_indent(_NPM_SIGN_IN.split("\n")[4:-1], 1)]
    outpost = _NGINX_OUTPOST % {"outpost": site.outpost_url}
    server += ["", *_indent(outpost.rstrip("\n").split("\n"), 1)]
    server += ["", *_indent(_SIGN_IN_REDIRECT.split("\n")[1:-1], 1), "}"]
    return _CONNECTION_MAP + "\n" + "\n".join(server) + "\n"


_NPM_PREAMBLE = """\
# The outpost's auth response carries the access token (X-authentik-jwt, which contains all
# group attributes) and a cookie. Larger buffers than nginx's default avoid the error
# "upstream sent too big header while reading response header from upstream".
proxy_buffers 8 16k;
proxy_buffer_size 32k;

# Don't put NPM's internal listening port into redirects.
port_in_redirect off;
"""

_AUTH_LINES = """\
auth_request     /outpost.goauthentik.io/auth/nginx;
error_page       401 = @goauthentik_proxy_signin;
auth_request_set $auth_cookie $upstream_http_set_cookie;
add_header       Set-Cookie $auth_cookie;
"""

_HEADER_LINES = """\
auth_request_set $authentik_username $upstream_http_x_authentik_username;
auth_request_set $authentik_groups $upstream_http_x_authentik_groups;
auth_request_set $authentik_entitlements $upstream_http_x_authentik_entitlements;
auth_request_set $authentik_email $upstream_http_x_authentik_email;
auth_request_set $authentik_name $upstream_http_x_authentik_name;
auth_request_set $authentik_uid $upstream_http_x_authentik_uid;

proxy_set_header X-authentik-username $authentik_username;
proxy_set_header X-authentik-groups $authentik_groups;
proxy_set_header X-authentik-entitlements $authentik_entitlements;
proxy_set_header X-authentik-email $authentik_email;
proxy_set_header X-authentik-name $authentik_name;
proxy_set_header X-authentik-uid $authentik_uid;
"""


def _block(text: str, depth: int) -> str:
    return "\n".join(_indent(text.rstrip("\n").split("\n"), depth)) + "\n"


_NPM_LOCATION = (
    """\
location / {
    # The forward host and port set on the Details tab.
    proxy_pass          $forward_scheme://$server:$port;
    proxy_set_header    Host $host;
    proxy_set_header    X-Forwarded-Proto $scheme;
    proxy_set_header    X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header    X-Real-IP $remote_addr;
    # A location with its own proxy_set_header lines inherits none from the server level,
    # so the websocket headers are repeated here.
    proxy_set_header    Upgrade $http_upgrade;
    proxy_set_header    Connection $http_connection;
    proxy_http_version  1.1;

    ##############################
    # authentik-specific config
    ##############################
"""
    + _block(_AUTH_LINES, 1)
    + "\n    # Translate headers from the outpost back to the upstream.\n"
    + _block(_HEADER_LINES, 1)
)

_NPM_SIGN_IN = """\
# Sign-in page for NPM v2.13 and newer: stores a placeholder token in the browser, so that
# NPM's UI shows its pages and not its login form, then opens "/", which requires the
# authentik login. See "Sign-in page" below. The page holds no secret. auth_request lines
# here would have no effect, because "return" runs before the access phase.
location = /authentik-sso {
    add_header       Cache-Control "no-store";
    default_type     text/html;
    return 200 '<!doctype html><title>Nginx Proxy Manager</title><script>localStorage.setItem("authentications", JSON.stringify([{token: "authentik", expires: "2099-01-01T00:00:00.000Z"}])); location.replace("/");</script>';
}
"""

_NPM_OUTPOST = """\
# All requests to /outpost.goauthentik.io must be reachable without authentication.
location /outpost.goauthentik.io {
    # The embedded outpost on the authentik server:
    proxy_pass              %(outpost)s/outpost.goauthentik.io;
    # For a separately deployed proxy outpost, use instead:
    # proxy_pass            http://authentik-outpost:9000;

    # The outpost picks the provider by this Host, which must equal the host (and port,
    # if any) of the provider's external host.
    proxy_set_header        Host $host;

    proxy_set_header        X-Original-URL $scheme://$http_host$request_uri;
    add_header              Set-Cookie $auth_cookie;
    auth_request_set        $auth_cookie $upstream_http_set_cookie;
    proxy_pass_request_body off;
    proxy_set_header        Content-Length "";
}
"""

_SIGN_IN_REDIRECT = """\
# When the auth subrequest returns 401, redirect to /start, which starts the authentik login.
location @goauthentik_proxy_signin {
    internal;
    add_header Set-Cookie $auth_cookie;
    return 302 /outpost.goauthentik.io/start?rd=$scheme://$http_host$request_uri;
}
"""

_CONNECTION_MAP = """\
# Upgrade the connection to a websocket when the client requests it.
map $http_upgrade $connection_upgrade_keepalive {
    default upgrade;
    ''      '';
}
"""

_TLS_LISTEN = """\
    listen                  443 ssl;
    http2                   on;    # nginx 1.25.1+; older: "listen 443 ssl http2;"
    server_name             %(host)s;

    ssl_certificate         /etc/ssl/certs/%(host)s.pem;
    ssl_certificate_key     /etc/ssl/private/%(host)s.key;
"""

_PLAIN_LISTEN = """\
    listen                  80;
    server_name             %(host)s;
"""

_NGINX_LOCATION = (
    """\
    location / {
        proxy_pass          %(upstream)s;
        proxy_set_header    Host $host;
        proxy_set_header    X-Forwarded-Proto $scheme;
        proxy_set_header    X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header    X-Real-IP $remote_addr;
        proxy_set_header    Upgrade $http_upgrade;
        proxy_set_header    Connection $connection_upgrade_keepalive;
        proxy_http_version  1.1;

"""
    + _block(_AUTH_LINES, 2)
    + "\n"
    + _block(_HEADER_LINES, 2)
)

_NGINX_OUTPOST = """\
location /outpost.goauthentik.io {
    proxy_pass              %(outpost)s/outpost.goauthentik.io;
    proxy_set_header        Host $host;
    proxy_set_header        X-Original-URL $scheme://$http_host$request_uri;
    add_header              Set-Cookie $auth_cookie;
    auth_request_set        $auth_cookie $upstream_http_set_cookie;
    proxy_pass_request_body off;
    proxy_set_header        Content-Length "";
}
"""


# -- Traefik and Caddy ------------------------------------------------------------


def _traefik(site: ProxySite) -> str:
    # NOTE: Traefik's built-in middlewares were not found to rename a forward-auth header or to
    # template a value, and whether Traefik drops a client-sent copy of the header when the
    # outpost sends none is unverified, so the output says what the upstream receives.
    host = urlsplit(f"//{site.host}").hostname or site.host
    headers = list(AUTHENTIK_HEADERS)
    notes = [
        f"# Traefik dynamic configuration for {site.host} (provider {site.provider!r}).",
        "# X-authentik-jwt is not forwarded: it carries every group attribute, passwords included.",
    ]
    if site.token_header:
        headers.append(site.token_header)
        notes += [
            f"# The upstream receives the {site.token_header} header as the outpost sends it: Traefik's",
            "# own middlewares cannot rewrite it into `Authorization: Bearer <token>`. Use nginx or",
            "# Caddy if the application needs the Authorization header.",
        ]
    document: dict[str, Any] = {
        "http": {
            "middlewares": {
                "authentik": {
                    "forwardAuth": {
                        "address": f"{site.outpost_url}/outpost.goauthentik.io/auth/traefik",
                        "trustForwardHeader": True,
                        "authResponseHeaders": headers,
                    }
                }
            },
            "routers": {
                "app": {
                    "rule": f"Host(`{host}`)",
                    "middlewares": ["authentik"],
                    "priority": 10,
                    "service": "app",
                },
                "app-outpost": {
                    "rule": f"Host(`{host}`) && PathPrefix(`/outpost.goauthentik.io/`)",
                    "priority": 15,
                    "service": "authentik-outpost",
                },
            },
            "services": {
                "app": {"loadBalancer": {"servers": [{"url": site.upstream}]}},
                "authentik-outpost": {
                    "loadBalancer": {"servers": [{"url": f"{site.outpost_url}/outpost.goauthentik.io"}]}
                },
            },
        }
    }
    import yaml

    return "\n".join(notes) + "\n" + yaml.safe_dump(document, sort_keys=False, width=200)


def _caddy(site: ProxySite) -> str:
    assert site.upstream is not None
    address = site.host if site.https else f"http://{site.host}"
    copied = " ".join(header.title() for header in AUTHENTIK_HEADERS)
    lines = [
        f"# Caddy site for {site.host} (provider {site.provider!r}).",
        "# X-Authentik-Jwt is not copied: it carries every group attribute, passwords included.",
        f"{address} {{",
        "    # Directives run in the order written only inside route.",
        "    route {",
        "        reverse_proxy /outpost.goauthentik.io/* " + site.outpost_url,
        "",
    ]
    if site.token_header:
        lines += [
            f"        # Drop a {site.token_header} header sent by the client: only the outpost may set it.",
            f"        request_header -{site.token_header}",
            "",
        ]
    lines += [
        f"        forward_auth {site.outpost_url} {{",
        "            uri /outpost.goauthentik.io/auth/caddy",
        "            # Capitalised as here, or the headers arrive empty.",
        f"            copy_headers {copied}{' ' + site.token_header if site.token_header else ''}",
        "            trusted_proxies private_ranges",
        "        }",
        "",
    ]
    if site.token_header:
        lines += [
            f"        reverse_proxy {site.upstream} {{",
            f'            header_up Authorization "Bearer {{http.request.header.{site.token_header}}}"',
            f"            header_up -{site.token_header}",
            "        }",
        ]
    else:
        lines.append(f"        reverse_proxy {site.upstream}")
    lines += ["    }", "}"]
    return "\n".join(lines) + "\n"
