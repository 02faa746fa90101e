"""Run an authentik scope-mapping expression the way authentik runs it, without authentik.

Modelled on authentik version/2025.12.4:

- authentik/lib/expression/evaluator.py (BaseEvaluator): the expression body is indented
  into ``def handler(<context names>):``, followed by ``result = handler(<context names>)``;
  the text is compiled with the mapping's name as file name and run by ``exec`` with the
  evaluator's globals and the context as locals. The globals hold ``ak_logger`` (a structlog
  logger), ``requests`` (a ``requests.Session``, not the module, with the ``http_timeout``
  setting, 30 s by default, as its default timeout), other helpers, and builtins, so
  ``import`` works inside an expression.
- authentik/core/expression/evaluator.py (PropertyMappingEvaluator.set_context): the
  context is ``user``, ``http_request``, ``request`` (a PolicyRequest whose ``.user`` is the
  user and whose ``.context`` contains the extra arguments), then the extra arguments.
- authentik/providers/oauth2/views/userinfo.py (UserInfoView.get_claims): scope mappings
  get ``provider`` and ``token`` as extra arguments; a ``None`` result is skipped and a
  non-dict result is dropped with a warning.
- authentik/core/models.py (User.group_attributes): the brand's attributes, then every
  group's attributes by group name, then the user's own, deep-merged in that order.

Names that need authentik's database (``ak_user_by``, ``ak_create_event`` ...) are
present but raise ``NotImplementedError`` here.
"""

from __future__ import annotations

import ipaddress
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

import requests

CONTEXT_NAMES = ("user", "http_request", "request", "provider", "token")
DATABASE_HELPERS = (
    "ak_call_policy",
    "ak_create_event",
    "ak_create_jwt",
    "ak_create_jwt_raw",
    "ak_is_group_member",
    "ak_send_email",
    "ak_user_by",
    "ak_user_has_authenticator",
    "resolve_dns",
    "reverse_dns",
)
AUTHENTIK_HTTP_TIMEOUT = 30


@dataclass
class LogRecord:
    """One call to ``ak_logger``: level, event text and keyword fields."""

    level: str
    event: str
    fields: dict[str, Any]


class RecordingLogger:
    """Stands in for ``ak_logger``, a structlog BoundLogger: ``ak_logger.warning("text", k=v)``."""

    def __init__(self, records: list[LogRecord] | None = None, **bound: Any) -> None:
        self.records: list[LogRecord] = [] if records is None else records
        self._bound = bound

    def bind(self, **fields: Any) -> RecordingLogger:
        return RecordingLogger(self.records, **{**self._bound, **fields})

    def _log(self, level: str, event: str, **fields: Any) -> None:
        self.records.append(LogRecord(level, event, {**self._bound, **fields}))

    def debug(self, event: str, **fields: Any) -> None:
        self._log("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, **fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._log("error", event, **fields)

    def text(self) -> str:
        """Everything logged, as one string, for checks that a secret never appears."""
        return "\n".join(f"{r.level} {r.event} {r.fields!r}" for r in self.records)


class DefaultTimeoutSession(requests.Session):
    """A session that applies a timeout when the caller gives none, as authentik's does."""

    def __init__(self, default_timeout: float = AUTHENTIK_HTTP_TIMEOUT) -> None:
        super().__init__()
        self.default_timeout = default_timeout
        self.headers["User-Agent"] = "authentik@2025.12.4 (expression harness)"

    def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, **kwargs)


def deep_merge(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Merge like deepmerge's ``always_merger``: dicts merge, lists append, others replace."""
    for key, value in source.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            deep_merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            old.extend(value)
        else:
            target[key] = value
    return target


@dataclass
class FakeGroup:
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeUser:
    """The parts of authentik's User that expressions commonly read."""

    username: str = "akadmin"
    email: str = "akadmin@example.com"
    name: str = "authentik Default Admin"
    attributes: dict[str, Any] = field(default_factory=dict)
    groups: list[FakeGroup] = field(default_factory=list)
    is_superuser: bool = False
    is_active: bool = True

    def group_attributes(self, request: Any = None) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        if request is not None and hasattr(request, "brand"):
            deep_merge(merged, request.brand.attributes)
        for group in sorted(self.groups, key=lambda g: g.name):
            deep_merge(merged, group.attributes)
        return deep_merge(merged, self.attributes)


@dataclass
class FakePolicyRequest:
    """authentik's PolicyRequest as a property mapping receives it."""

    user: FakeUser
    http_request: Any = None
    obj: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    debug: bool = False


@dataclass
class Evaluation:
    result: Any
    logger: RecordingLogger


def _not_available(name: str) -> Any:
    def helper(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{name} needs authentik's database, which the harness lacks")

    return helper


def _list_flatten(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    if not value:
        return None
    return value[0]


def _globals(logger: RecordingLogger, session: requests.Session) -> dict[str, Any]:
    names: dict[str, Any] = {name: _not_available(name) for name in DATABASE_HELPERS}
    names.update(
        ak_logger=logger,
        requests=session,
        ip_address=ipaddress.ip_address,
        ip_network=ipaddress.ip_network,
        list_flatten=_list_flatten,
        regex_match=lambda value, regex: re.search(regex, value) is not None,
        regex_replace=lambda value, regex, repl: re.sub(regex, repl, value),
        slugify=_not_available("slugify"),
        SkipObject=type("SkipObjectException", (Exception,), {}),
    )
    return names


def wrap(body: str, names: tuple[str, ...] = CONTEXT_NAMES) -> str:
    """Turn an expression body into the module text authentik compiles."""
    signature = ",".join(names)
    return f"def handler({signature}):\n" + textwrap.indent(body, "    ") + f"\nresult = handler({signature})"


def evaluate_scope_mapping(
    body: str,
    user: FakeUser,
    *,
    mapping_name: str = "scope mapping",
    provider: Any = None,
    token: Any = None,
    http_request: Any = None,
) -> Evaluation:
    """Evaluate ``body`` as a scope mapping for ``user``. Exceptions propagate, as in authentik."""
    logger = RecordingLogger()
    extra = {"provider": provider, "token": token}
    policy_request = FakePolicyRequest(user=user, http_request=http_request, context=dict(extra))
    local_names = {"user": user, "http_request": http_request, "request": policy_request, **extra}

    code = compile(wrap(body), mapping_name, "exec")
    with DefaultTimeoutSession() as session:
        exec(code, _globals(logger, session), local_names)
    return Evaluation(result=local_names["result"], logger=logger)
