# Nginx Proxy Manager (NPM) single sign-on: scope mapping, scope name "ak_proxy".
#
# When a user signs in to the NPM application, the proxy outpost redeems the login and
# authentik runs this expression. It logs in to NPM's API with a service account and hands
# NPM's token to the outpost as the extra response header X-Nginx-Token. NPM's nginx then
# sends it to NPM as "Authorization: Bearer <token>" (see docs/nginx-proxy-manager.md).
#
# Attributes it reads, from the user's groups (a user attribute of the same name wins):
#   nginx_api_url   NPM's admin address as the authentik SERVER reaches it, without /api,
#                   e.g. http://nginx-proxy-manager:81
#   nginx_username  e-mail address of the NPM service user (without two-factor login)
#   nginx_password  that user's password
#   nginx_timeout   optional: seconds to wait for NPM, default 5, at most 60
#
# If anything goes wrong (attribute missing, NPM down or slow, wrong password, unexpected
# response), it returns {} and logs the reason in the authentik server log. The outpost then
# sends no header, and NPM rejects the API requests with 403. The expression catches every
# error of the HTTP call, so the authentik login itself goes on. It never logs the password
# or the token.
#
# authentik also runs scope mappings for the anonymous user when it serves the provider's
# OpenID configuration. That user has no nginx_* attributes, so this logs one info line.
#
# It runs once per login, not per request: NPM's token is valid for 1 day, so keep the
# proxy provider's "Token validity" at hours=24 or less.

from requests.exceptions import Timeout

DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 60.0  # the login waits for this expression

attributes = request.user.group_attributes(request)

api_url = attributes.get("nginx_api_url")
username = attributes.get("nginx_username")
password = attributes.get("nginx_password")

# A user outside the NPM group has none of the attributes: not an error, no header.
if api_url is None and username is None and password is None:
    ak_logger.info(
        "user has no nginx_* attributes, so no NPM token header is sent", user=request.user.username
    )
    return {}

missing = [
    name
    for name, value in (
        ("nginx_api_url", api_url),
        ("nginx_username", username),
        ("nginx_password", password),
    )
    if not isinstance(value, str) or not value.strip()
]
if missing:
    ak_logger.warning(
        "nginx_* attribute missing or empty, so no NPM token header is sent",
        missing=missing,
        user=request.user.username,
    )
    return {}

timeout = DEFAULT_TIMEOUT
if attributes.get("nginx_timeout") is not None:
    try:
        timeout = float(attributes["nginx_timeout"])
    except (TypeError, ValueError):
        timeout = 0.0
    if not 0 < timeout <= MAX_TIMEOUT:
        ak_logger.warning(
            "nginx_timeout must be a number of seconds above 0 and up to 60, using the default",
            nginx_timeout=str(attributes["nginx_timeout"]),
            default=DEFAULT_TIMEOUT,
        )
        timeout = DEFAULT_TIMEOUT

base_url = api_url.strip().rstrip("/")
if base_url.endswith("/api"):
    base_url = base_url[: -len("/api")]
url = base_url + "/api/tokens"

# "requests" here is authentik's HTTP session (it sends authentik's User-Agent).
# No redirects: the credentials must never be re-sent to another address.
try:
    response = requests.post(
        url,
        json={"identity": username, "secret": password},
        timeout=timeout,
        allow_redirects=False,
    )
except Timeout:
    ak_logger.warning("NPM login timed out", url=url, timeout=timeout)
    return {}
except Exception as exc:  # connection refused, unknown host, invalid URL, TLS error ...
    ak_logger.warning(
        "NPM login request failed",
        url=url,
        error=type(exc).__name__,
        detail=str(exc)[:300],
    )
    return {}

try:
    payload = response.json()
except ValueError:
    payload = None

# NPM reports errors as {"error": {"code": 400, "message": "Invalid email or password"}}.
npm_message = None
if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
    npm_message = payload["error"].get("message")

if response.status_code == 400:
    ak_logger.warning(
        "NPM rejected the credentials, check nginx_username and nginx_password",
        url=url,
        status=response.status_code,
        npm_message=npm_message,
        npm_user=username,
    )
    return {}

if response.status_code != 200:
    ak_logger.warning(
        "NPM login returned an unexpected status, check nginx_api_url",
        url=url,
        status=response.status_code,
        npm_message=npm_message,
    )
    return {}

if not isinstance(payload, dict):
    ak_logger.warning(
        "NPM login response is not a JSON object",
        url=url,
        content_type=response.headers.get("Content-Type"),
    )
    return {}

token = payload.get("token")
if not isinstance(token, str) or not token:
    if payload.get("requires_2fa"):
        reason = "NPM login requires two-factor authentication, use a service user without it"
    else:
        reason = "NPM login response has no token"
    ak_logger.warning(reason, url=url, npm_user=username, keys=sorted(payload))
    return {}

ak_logger.info("NPM login succeeded", npm_user=username, expires=payload.get("expires"))
return {"ak_proxy": {"user_attributes": {"additionalHeaders": {"X-Nginx-Token": token}}}}

