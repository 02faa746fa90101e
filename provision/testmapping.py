"""`provision test-mapping`: have authentik run a scope mapping for a user, and judge the result.

authentik evaluates the mapping itself (`POST propertymappings/all/{uuid}/test/`), so a
token bridge logs in to its app from the authentik server, as it will at sign-in. The
report names the headers the proxy outpost would add and never shows their values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from provision.errors import ProvisionError
from provision.spec.load import SpecFile

if TYPE_CHECKING:
    from provision.api.client import AuthentikClient

MAX_ERROR_LINES = 20


@dataclass(frozen=True)
class MappingTest:
    """The result of authentik's mapping test, and the header the spec expects from the mapping."""

    mapping: str
    username: str
    release: str
    successful: bool
    result: Any = None
    error: str | None = None
    expected_header: str | None = None

    @property
    def headers(self) -> dict[str, Any]:
        """The `additionalHeaders` of the `ak_proxy` claim: the headers the outpost adds."""
        claim = self.result.get("ak_proxy") if isinstance(self.result, dict) else None
        attributes = claim.get("user_attributes") if isinstance(claim, dict) else None
        headers = attributes.get("additionalHeaders") if isinstance(attributes, dict) else None
        return headers if isinstance(headers, dict) else {}

    @property
    def problem(self) -> str | None:
        """Why the mapping would not work at sign-in; None when it would."""
        if not self.successful:
            return "authentik could not evaluate the mapping"
        if not isinstance(self.result, dict):
            return (
                f"the mapping returned {_kind(self.result)}, not a mapping; "
                "authentik drops such a result of a scope mapping without a word"
            )
        if self.expected_header is not None and not self.headers.get(self.expected_header):
            return (
                f"the token bridge sent no {self.expected_header} header; "
                "the authentik server log has the reason (lines starting with 'token bridge:')"
            )
        return None


def run_mapping_test(
    client: AuthentikClient, spec_file: SpecFile, *, mapping: str, username: str
) -> MappingTest:
    """Find the scope mapping and the user by name, and have authentik evaluate the mapping."""
    mapping_pk = _scope_mapping_pk(client, mapping)
    user_pk = _user_pk(client, username)
    answer = client.post(f"propertymappings/all/{mapping_pk}/test/", {"user": user_pk})
    if not isinstance(answer, dict) or not isinstance(answer.get("successful"), bool):
        raise ProvisionError("authentik's mapping test returned an unexpected response")
    expected = next((bridge.header for bridge in spec_file.bridges if bridge.mapping == mapping), None)
    test = MappingTest(
        mapping=mapping,
        username=username,
        release=str(client.release),
        successful=answer["successful"],
        expected_header=expected,
    )
    text = str(answer.get("result", ""))
    if not test.successful:
        return replace(test, error=text)
    try:
        return replace(test, result=json.loads(text))
    except ValueError:
        return replace(test, successful=False, error="the result is not JSON")


def _scope_mapping_pk(client: AuthentikClient, name: str) -> Any:
    found = [
        item
        for item in client.list(client.release.scope_mapping_path, {"name": name})
        if item.get("name") == name
    ]
    if not found:
        raise ProvisionError(
            f"scope mapping {name!r} not found in authentik",
            hint="Apply the spec first; a token bridge's mapping is called '<bridge name> token bridge'.",
        )
    return found[0]["pk"]


def _user_pk(client: AuthentikClient, username: str) -> Any:
    found = [
        item
        for item in client.list("core/users/", {"username": username})
        if item.get("username") == username
    ]
    if not found:
        raise ProvisionError(f"user {username!r} not found in authentik", hint="Give an existing username.")
    return found[0]["pk"]


# -- the report ----------------------------------------------------------------------------


def render_mapping_test(test: MappingTest) -> str:
    """The report: the claims and the headers with their values masked, then the verdict."""
    lines = [f"Tested scope mapping {test.mapping!r} for user {test.username!r} on authentik {test.release}."]
    if not test.successful:
        lines.append("authentik could not evaluate it:")
        error_lines = (test.error or "").strip().splitlines()[-MAX_ERROR_LINES:]
        lines += [f"  {line}" for line in error_lines]
    elif isinstance(test.result, dict):
        claims = ", ".join(sorted(str(key) for key in test.result)) or "none"
        lines.append(f"Claims: {claims}")
        if test.headers:
            lines.append("Headers the proxy outpost adds:")
            lines += [
                f"  {name}: {_masked(value, token=name == test.expected_header)}"
                for name, value in sorted(test.headers.items())
            ]
    problem = test.problem
    if problem is not None:
        lines.append(f"Failed: {problem}.")
    elif test.expected_header is not None:
        lines.append(f"OK: the token bridge sends {test.expected_header}.")
    else:
        lines.append("OK: the mapping returns a mapping.")
    return "\n".join(lines)


def _masked(value: Any, *, token: bool) -> str:
    if isinstance(value, str):
        return f"({'token' if token else 'text'}, {len(value)} characters)"
    if value is None:
        return "null (the outpost sends an empty header)"
    return f"({_kind(value)}; the outpost sends an empty header unless it is text or an integer)"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "a list"}
    return names.get(type(value), type(value).__name__)
