"""Token-bridge presets: apps whose login API returns a token.

Each preset was read from the app's own source at the version named, not guessed:

- Nginx Proxy Manager (v2.13 to v2.15, and `develop` of 2026-06): `POST /api/tokens`
  with `{"identity": email, "secret": password}` (`backend/routes/tokens.js`,
  `backend/internal/token.js`); 200 `{"token", "expires"}`; a wrong login is
  400 `{"error": {"message": "Invalid email or password"}}` (`backend/lib/error.js`,
  `AuthError`); the token's `expiry` defaults to `"1d"`.
- Portainer (2.23, commit cc75167): `POST /api/auth` with `{"username", "password"}`
  (`api/http/handler/auth/authenticate.go`); 200 `{"jwt"}`; a wrong login is 422
  `{"message": "Invalid credentials", "details": ...}` (`pkg/libhttp/error`); the
  token lives as long as the user session timeout, `DefaultUserSessionTimeout = "8h"`
  (`api/portainer.go`). Portainer reads it from `Authorization: Bearer`.

NOTE: Portainer was read at 2.23 only; the login shapes have been stable for years, but
newer releases were not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

PresetName = Literal["nginx-proxy-manager", "portainer"]


@dataclass(frozen=True)
class Preset:
    """How to log in to one app: everything a token bridge needs besides the app's address."""

    title: str
    login_path: str
    body: dict[str, Any]
    token_path: str
    header: str
    token_lifetime: str
    method: str = "POST"


PRESETS: dict[str, Preset] = {
    "nginx-proxy-manager": Preset(
        title="Nginx Proxy Manager",
        login_path="/api/tokens",
        body={"identity": "{nginx_username}", "secret": "{nginx_password}"},
        token_path="token",
        header="X-Nginx-Token",
        token_lifetime="days=1",
    ),
    "portainer": Preset(
        title="Portainer",
        login_path="/api/auth",
        body={"username": "{portainer_username}", "password": "{portainer_password}"},
        token_path="jwt",
        header="X-Portainer-Token",
        token_lifetime="hours=8",
    ),
}
