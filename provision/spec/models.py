"""The spec's schema (`version: 1`) as pydantic models.

Field names are the spec's vocabulary, chosen to read well in YAML; the
mapping to authentik's API field names lives with the planner. A field left
out of the spec is never compared or sent (pydantic's `model_fields_set`).
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from provision.secrets import Secret
from provision.spec.bridge_expression import body_attributes
from provision.spec.presets import PresetName

# A string that may also come from `!env` / `!file`.
Text = str | Secret

SLUG_PATTERN = re.compile(r"^[-a-zA-Z0-9_]+$")
TIMEDELTA_UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds", "microseconds")
_TIMEDELTA_PART = r"(?:{units})\s*=\s*\d+(?:\.\d+)?\s*".format(units="|".join(TIMEDELTA_UNITS))
TIMEDELTA_PATTERN = re.compile(rf"^\s*{_TIMEDELTA_PART}(?:;\s*{_TIMEDELTA_PART})*;?\s*$")


def _no_outer_spaces(value: str) -> str:
    if value != value.strip():
        raise ValueError(f"{value!r} starts or ends with whitespace, which authentik removes; remove it")
    return value


# A name or a reference by name: authentik trims whitespace around names, so a name
# with outer spaces would never match what authentik stores.
Name = Annotated[str, Field(min_length=1), AfterValidator(_no_outer_spaces)]


class SpecModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        arbitrary_types_allowed=True,
        str_strip_whitespace=False,
    )


def _check_json(value: Any, path: str = "") -> None:
    if value is None or isinstance(value, str | bool | int | float | Secret):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{path or 'value'}: {value} is not valid JSON; quote it to keep it as text")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json(item, f"{path}.{key}" if path else str(key))
        return
    if isinstance(value, datetime.date | datetime.datetime):
        raise ValueError(f"{path or 'value'}: a date is not valid JSON here; quote it to keep it as text")
    raise ValueError(f"{path or 'value'}: {type(value).__name__} is not valid JSON")


def _check_duration(value: str | None) -> str | None:
    if value is not None and not TIMEDELTA_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is not a duration; write it as `hours=1` or `days=1;hours=12` "
            f"(units: {', '.join(TIMEDELTA_UNITS)})"
        )
    return value


def _check_url(value: Text, field: str) -> Text:
    if isinstance(value, Secret):
        return value
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{field} must be an http:// or https:// URL, got {value!r}")
    return value


class GroupSpec(SpecModel):
    """A group, its attributes and the members the spec adds to it."""

    name: Name
    attributes: dict[str, Any] | None = None
    is_superuser: bool | None = None
    parents: list[Name] | None = None
    members: list[Name] | None = None

    @field_validator("attributes")
    @classmethod
    def attributes_are_json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _check_json(value)
        return value

    @field_validator("parents", "members")
    @classmethod
    def no_repeats(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lists the same name twice")
        return value


class ScopeMappingSpec(SpecModel):
    """A scope mapping: Python run by authentik, returning claims under one scope name."""

    name: Name
    scope_name: Name
    expression: Text | None = None
    expression_file: str | None = None
    description: str | None = None

    @field_validator("scope_name")
    @classmethod
    def scope_name_has_no_spaces(cls, value: str) -> str:
        if any(char.isspace() for char in value):
            raise ValueError(f"scope_name must not contain spaces, got {value!r}")
        return value

    @model_validator(mode="after")
    def one_expression_source(self) -> ScopeMappingSpec:
        if (self.expression is None) == (self.expression_file is None):
            raise ValueError("set exactly one of expression or expression_file")
        return self


ProxyMode = Literal["proxy", "forward_single", "forward_domain"]


class ProxyProviderSpec(SpecModel):
    """A proxy provider, in reverse-proxy or forward-auth mode."""

    name: Name
    mode: ProxyMode | None = None
    external_host: Text
    internal_host: Text | None = None
    internal_host_ssl_validation: bool | None = None
    cookie_domain: str | None = None
    skip_path_regex: str | None = None
    authorization_flow: Name
    invalidation_flow: Name | None = None
    property_mappings: list[Name] | None = None
    basic_auth_enabled: bool | None = None
    basic_auth_user_attribute: str | None = None
    basic_auth_password_attribute: str | None = None
    intercept_header_auth: bool | None = None
    access_token_validity: str | None = None
    refresh_token_validity: str | None = None
    certificate: Name | None = None

    @field_validator("external_host")
    @classmethod
    def external_host_is_url(cls, value: Text) -> Text:
        return _check_url(value, "external_host")

    @field_validator("internal_host")
    @classmethod
    def internal_host_is_url(cls, value: Text | None) -> Text | None:
        if value is None or value == "":
            return value
        return _check_url(value, "internal_host")

    @field_validator("access_token_validity", "refresh_token_validity")
    @classmethod
    def validity_is_timedelta(cls, value: str | None) -> str | None:
        return _check_duration(value)

    @field_validator("property_mappings")
    @classmethod
    def no_repeats(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lists the same mapping twice")
        return value

    @model_validator(mode="after")
    def mode_needs_its_fields(self) -> ProxyProviderSpec:
        if self.mode in (None, "proxy") and not self.internal_host:
            raise ValueError(
                "internal_host is required in mode `proxy` (the default); "
                "set it, or choose mode forward_single or forward_domain"
            )
        if self.basic_auth_enabled and not (
            self.basic_auth_user_attribute and self.basic_auth_password_attribute
        ):
            raise ValueError(
                "basic_auth_enabled needs basic_auth_user_attribute and basic_auth_password_attribute"
            )
        return self


class ApplicationSpec(SpecModel):
    """An application, its provider, and the groups that may open it."""

    name: Name
    slug: str
    provider: Name | None = None
    launch_url: Text | None = None
    description: str | None = None
    publisher: str | None = None
    ui_group: str | None = None
    policy_engine_mode: Literal["all", "any"] | None = None
    open_in_new_tab: bool | None = None
    access: list[Name] | None = None

    @field_validator("slug")
    @classmethod
    def slug_is_valid(cls, value: str) -> str:
        if not SLUG_PATTERN.match(value):
            raise ValueError(f"slug {value!r} may contain only letters, digits, - and _")
        return value

    @field_validator("launch_url")
    @classmethod
    def launch_url_is_url(cls, value: Text | None) -> Text | None:
        if value is None or value == "" or isinstance(value, Secret):
            return value
        # authentik allows format placeholders such as https://{username}.example.com.
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
            raise ValueError(f"launch_url must be a URL such as https://app.example.com, got {value!r}")
        return value

    @field_validator("access")
    @classmethod
    def no_repeats(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("lists the same group twice")
        return value


class OutpostSpec(SpecModel):
    """Membership of providers in an existing outpost; the outpost itself is not managed."""

    name: Name
    providers: list[Name]

    @field_validator("providers")
    @classmethod
    def no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists the same provider twice")
        return value


ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
TOKEN_PATH_PATTERN = re.compile(r"^[^.\s]+(?:\.[^.\s]+)*$")
MAX_BRIDGE_TIMEOUT = 60.0


class TokenBridgeSpec(SpecModel):
    """A login to an app's API at sign-in, whose token the proxy outpost sends on as a header.

    provision expands it into a scope mapping, the group's credential attributes and
    the provider's property mapping (see `provision.spec.bridges`).
    """

    name: Name
    preset: PresetName | None = None
    url: str
    login_path: str | None = None
    method: Literal["POST", "PUT"] | None = None
    body: dict[str, Any] | None = None
    token_path: str | None = None
    header: str | None = None
    token_lifetime: str | None = None
    timeout: int | float | None = None
    group: Name
    credentials: dict[str, Text] | None = None
    provider: Name

    @field_validator("url")
    @classmethod
    def url_is_base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
            raise ValueError(
                f"url must be the app's base URL as authentik's server reaches it, such as "
                f"http://app:8080, without query or spaces; got {value!r}"
            )
        return value

    @field_validator("login_path")
    @classmethod
    def login_path_is_path(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^/[^\s?#]*$", value):
            raise ValueError(f"login_path must be a path starting with /, such as /api/auth; got {value!r}")
        return value

    @field_validator("body")
    @classmethod
    def body_is_template(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        _check_json(value)
        _check_body_values(value)
        if not body_attributes(value):
            raise ValueError(
                "body refers to no attribute; write the credentials as placeholders, "
                'such as {"username": "{app_username}", "password": "{app_password}"}'
            )
        return value

    @field_validator("token_path")
    @classmethod
    def token_path_is_dotted(cls, value: str | None) -> str | None:
        if value is not None and not TOKEN_PATH_PATTERN.match(value):
            raise ValueError(
                f"token_path must be keys joined by dots, such as data.access_token; got {value!r}"
            )
        return value

    @field_validator("header")
    @classmethod
    def header_is_a_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "_" in value:
            raise ValueError(
                f"header {value!r} contains _, and authentik's outpost drops such headers "
                "from 2025.10 on; use - instead"
            )
        if not HEADER_PATTERN.match(value):
            raise ValueError(f"header {value!r} may contain only letters, digits and -")
        return value

    @field_validator("token_lifetime")
    @classmethod
    def lifetime_is_timedelta(cls, value: str | None) -> str | None:
        return _check_duration(value)

    @field_validator("timeout")
    @classmethod
    def timeout_in_range(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value <= MAX_BRIDGE_TIMEOUT:
            raise ValueError(f"timeout must be seconds above 0 and up to 60, got {value!r}")
        return value

    @field_validator("credentials")
    @classmethod
    def credential_names(cls, value: dict[str, Text] | None) -> dict[str, Text] | None:
        for key in value or {}:
            if not ATTRIBUTE_NAME.match(key):
                raise ValueError(f"credential {key!r} must be an attribute name: letters, digits and _")
        return value

    @model_validator(mode="after")
    def app_is_described(self) -> TokenBridgeSpec:
        if self.preset is None:
            needed = [
                key for key in ("login_path", "body", "token_path", "header") if getattr(self, key) is None
            ]
            if needed:
                raise ValueError(f"without a preset, set {', '.join(needed)}")
        return self


def _check_body_values(value: Any) -> None:
    """A body template holds JSON with text keys and no secret: it is embedded in the expression."""
    if isinstance(value, Secret):
        raise ValueError(
            "body must not hold !env or !file values, because the expression would show them; "
            "put them under credentials and refer to them as {attribute_name}"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"body key {key!r} must be text; quote it")
            _check_body_values(item)
    elif isinstance(value, list):
        for item in value:
            _check_body_values(item)


STACK_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class Spec(SpecModel):
    """A whole spec file."""

    version: Literal[1]
    stack: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def version_is_integer(cls, value: Any) -> Any:
        # `Literal[1]` alone accepts True and 1.0, which equal 1 in Python.
        if isinstance(value, bool | float):
            raise ValueError(f"version must be the integer 1, got {value!r}")
        return value

    groups: list[GroupSpec] = []
    scope_mappings: list[ScopeMappingSpec] = []
    proxy_providers: list[ProxyProviderSpec] = []
    applications: list[ApplicationSpec] = []
    outposts: list[OutpostSpec] = []
    token_bridges: list[TokenBridgeSpec] = []

    @field_validator("stack")
    @classmethod
    def stack_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and not STACK_PATTERN.match(value):
            raise ValueError(
                f"stack {value!r} must start with a letter or digit and contain only letters, "
                "digits, '.', '-' and '_' (at most 63 characters)"
            )
        return value


KIND_SECTIONS = ("groups", "scope_mappings", "proxy_providers", "applications", "outposts")
