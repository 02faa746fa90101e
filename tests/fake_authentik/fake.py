"""FakeAuthentik: a stateful, in-process stand-in for authentik's REST API, one release at a time.

Every request is checked against the release's OpenAPI schema (violations collected in
``violations``) and then served the way the real server would serve it, quirks included.
"""

from __future__ import annotations

import json
import random
import re
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from .adapter import FakeAdapter
from .errors import ApiError, method_not_allowed
from .handlers.applications import Applications, PolicyBindings
from .handlers.base import Record, Reply, Request, Resource, WriteSchema, same_pk
from .handlers.blueprints import BlueprintInstances
from .handlers.core import Groups, Users
from .handlers.lookups import Certificates, Flows, Version
from .handlers.mappings import AllMappings, ScopeMappings
from .handlers.outposts import Outposts
from .handlers.providers import AllProviders, ProxyProviders
from .openapi import API_PREFIX, Route, relative_path, validator_for
from .schemas import Release, load_schema, resolve
from .seed import seed
from .shapes import prune

KINDS = (
    "user",
    "group",
    "scope_mapping",
    "flow",
    "certificate",
    "proxy_provider",
    "application",
    "policy_binding",
    "outpost",
    "blueprint_instance",
)
"""Store kinds, in the order derived fields are recomputed (providers before applications)."""

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The mapping test is a POST that changes nothing, so it is not counted as a write.
_READ_ONLY_POSTS = re.compile(r"^/propertymappings/all/[^/]+/test/$")
# Statuses whose bodies the schema describes; 404/405/5xx bodies are not checked.
_CHECKED_STATUSES = frozenset({200, 201, 204, 400, 403})


@dataclass
class RecordedRequest:
    """One request the fake received. ``status`` is None when an exception was injected."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int | None


@dataclass
class Fault:
    method: str
    path_regex: re.Pattern[str]
    status: int
    body: Any
    times: int
    exc: BaseException | type[BaseException] | None


@dataclass
class _Parsed:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    body_error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeAuthentik:
    """A fake authentik API server for one release series (e.g. "2025.12").

    ``writes`` holds every POST, PUT, PATCH and DELETE the fake received, whatever its
    status (add_user/remove_user included), except ``propertymappings/all/{uuid}/test/``,
    which only reads. Calls made through ``api()`` are validated but not logged, so test
    setup "behind the tool's back" doesn't show up in ``requests`` or ``writes``.
    """

    def __init__(
        self,
        release: str = "2025.12",
        token: str = "test-token",
        base_url: str = "https://authentik.test",
    ) -> None:
        self.release_name = release
        self.schema = load_schema(release)
        self.version: str = self.schema["info"]["version"]
        self.release = Release.parse(self.version)
        self.validator = validator_for(release)
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.requests: list[RecordedRequest] = []
        self.violations: list[str] = []
        self.response_violations: list[str] = []
        #: What the mapping test endpoint returns as the evaluated result; set an exception
        #: instance to get ``successful: false`` with its text.
        self.mapping_test_result: Any = {}
        #: authentik's per-user application access cache: (user pk, page) -> app pks.
        self.app_cache: dict[tuple[int, int | None], list[str]] = {}
        self._stores: dict[str, list[Record]] = {kind: [] for kind in KINDS}
        self.lock = threading.RLock()
        self._faults: list[Fault] = []
        self._random = random.Random(f"fake-authentik-{release}")
        self._counters: dict[str, int] = {}
        self._write_schemas: dict[tuple[str, str], WriteSchema] = {}
        self._recording = True
        self._resources: dict[str, Resource] = {}
        self._routes: dict[tuple[str, str], Callable[[Request], Reply]] = {}
        self._install_handlers()
        seed(self)
        self.refresh()
        self._internal = self.session()

    # -- public interface ------------------------------------------------------------------

    def session(self) -> requests.Session:
        """A new requests.Session served by this fake (no sockets)."""
        session = requests.Session()
        self.mount(session)
        return session

    def mount(self, session: requests.Session) -> None:
        session.mount(self.base_url + "/", FakeAdapter(self))

    @property
    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method in WRITE_METHODS and not _READ_ONLY_POSTS.match(r.path)]

    def reset_log(self) -> None:
        """Forget the recorded requests; the stored state stays."""
        self.requests.clear()

    def store(self, kind: str) -> list[Record]:
        """The live list of stored objects of ``kind``, shaped as the API returns them."""
        if kind not in self._stores:
            raise KeyError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        return self._stores[kind]

    def find(self, kind: str, **match: Any) -> Record:
        """The single stored object whose fields equal ``match``."""
        found = [r for r in self.store(kind) if all(r.get(k) == v for k, v in match.items())]
        if len(found) != 1:
            raise LookupError(f"{len(found)} {kind} objects match {match}")
        return found[0]

    def add_user(self, username: str, **fields: Any) -> int:
        """Seed a user (``groups`` may list group uuids); returns its int pk."""
        groups = fields.pop("groups", None)
        record = self.create_record("user", username=username, **fields)
        if groups is not None:
            self._resources["user"].save(record, {"groups": groups}, None)  # type: ignore[arg-type]
        self.refresh()
        return int(record["pk"])

    def api(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> requests.Response:
        """Call the fake through its HTTP layer, unlogged (violations still count)."""
        url = f"{self.base_url}{API_PREFIX}{relative_path(path)}"
        headers = {"Authorization": f"Bearer {self.token}"}
        self._recording = False
        try:
            return self._internal.request(method, url, json=json, params=params, headers=headers)
        finally:
            self._recording = True

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 500,
        body: Any = None,
        times: int = 1,
        exc: BaseException | type[BaseException] | None = None,
    ) -> None:
        """Make the next ``times`` requests matching method and path (relative to /api/v3,
        searched with re.search) get ``status``/``body``, or raise ``exc`` from the adapter."""
        self._faults.append(Fault(method.upper(), re.compile(path_regex), status, body, times, exc))

    # -- helpers for the handlers ----------------------------------------------------------

    @property
    def caller(self) -> Record:
        """The user the token belongs to: akadmin."""
        return self.find("user", username="akadmin")

    def create_record(self, kind: str, **fields: Any) -> Record:
        """Store a new object without going through the API (seeding)."""
        resource = self._resources[kind]
        record = resource.new_record(resource.defaults())
        record.update(fields)
        self.store(kind).append(record)
        return record

    def refresh(self) -> None:
        """Recompute derived read-only fields and cut every record to the release's shape."""
        for kind in KINDS:
            resource = self._resources[kind]
            for record in self.store(kind):
                resource.derive(record)
                shaped = self.shape(resource.component, record)
                record.clear()
                record.update(shaped)

    def shape(self, component: str, record: Record) -> Record:
        node = self.schema["components"]["schemas"][component]
        shaped: Record = prune(self.schema, record, node)
        return shaped

    def write_schema(self, template: str, method: str) -> WriteSchema:
        """The request-body properties and required fields of an operation in this release."""
        key = (template, method.lower())
        if key not in self._write_schemas:
            op = self.schema["paths"][template][method.lower()]
            content = resolve(self.schema, op.get("requestBody", {})).get("content", {})
            body = resolve(self.schema, content.get("application/json", {}).get("schema", {}))
            self._write_schemas[key] = WriteSchema(
                dict(body.get("properties", {})), list(body.get("required", []))
            )
        return self._write_schemas[key]

    def lookup(self, kind: str, pk: Any) -> Record | None:
        """The stored object with that pk; "pbm" searches applications and flows (policy
        binding targets). Kinds the fake doesn't store (roles, sources...) find nothing."""
        if pk is None:
            return None
        kinds = ("application", "flow") if kind == "pbm" else (kind,)
        for name in kinds:
            for record in self._stores.get(name, []):
                if same_pk(record["pk"], pk):
                    return record
        return None

    def lookup_by(self, kind: str, key: str, value: str) -> Record | None:
        for record in self.store(kind):
            if str(record.get(key, "")).lower() == value.lower():
                return record
        return None

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def next_int(self, counter: str) -> int:
        self._counters[counter] = self._counters.get(counter, 0) + 1
        return self._counters[counter]

    def random_string(self, length: int) -> str:
        return "".join(self._random.choices(string.ascii_letters + string.digits, k=length))

    # -- serving ---------------------------------------------------------------------------

    def _install_handlers(self) -> None:
        resources: list[Any] = [
            Users(self),
            Groups(self),
            ScopeMappings(self),
            Flows(self),
            Certificates(self),
            ProxyProviders(self),
            Applications(self),
            PolicyBindings(self),
            Outposts(self),
            BlueprintInstances(self),
        ]
        for resource in resources:
            self._resources[resource.kind] = resource
        paths = self.schema["paths"]
        for resource in [*resources, AllMappings(self), AllProviders(self), Version(self)]:
            for (template, method), handler in resource.routes().items():
                # Routes only where this release has the operation: the rest 404/405.
                if method.lower() in paths.get(template, {}):
                    self._routes[(template, method)] = handler

    def handle(self, prepared: requests.PreparedRequest) -> tuple[int, Any]:
        """Serve one request: validate, inject faults, authenticate, dispatch, record."""
        parsed = self._parse(prepared)
        for problem in self.validator.validate(parsed.method, parsed.path, parsed.query, parsed.body):
            self.violations.append(f"{parsed.method} {parsed.path}: {problem}")
        fault = self._take_fault(parsed)
        if fault is not None and fault.exc is not None:
            self._record(parsed, None)
            exc = fault.exc
            if isinstance(exc, type):
                exc = exc(f"injected by FakeAuthentik.fail_next for {parsed.path}")
            raise exc
        if fault is not None:
            status, body = fault.status, fault.body
        else:
            status, body = self._serve(parsed)
            self._check_response(parsed, status, body)
        self._record(parsed, status)
        return status, body

    def _serve(self, parsed: _Parsed) -> tuple[int, Any]:
        try:
            self._authenticate(parsed.headers.get("authorization", ""))
            if parsed.body_error is not None:
                raise ApiError(400, {"detail": f"JSON parse error - {parsed.body_error}"})
            route = self.validator.router.match(parsed.path)
            if route is None or not parsed.path.startswith("/"):
                raise ApiError(404, {"detail": "Not found."})
            handler = self._handler(route, parsed.method)
            self.refresh()  # pick up direct edits of store() records
            request = Request(
                parsed.method,
                parsed.path,
                route.template,
                route.params,
                self._declared_query(route, parsed),
                parsed.body,
            )
            reply = handler(request)
        except ApiError as error:
            return error.status, error.body
        return reply.status, reply.body

    def _handler(self, route: Route, method: str) -> Callable[[Request], Reply]:
        if route.operation(method) is None:
            raise method_not_allowed(method)
        handler = self._routes.get((route.template, method))
        if handler is None:
            raise ApiError(501, {"detail": f"FakeAuthentik does not implement {method} {route.template}"})
        return handler

    def _declared_query(self, route: Route, parsed: _Parsed) -> dict[str, list[str]]:
        """The server ignores query parameters the operation doesn't declare, so the
        handlers only see declared ones (a plain ``name`` on proxy providers lists all)."""
        op = route.operation(parsed.method) or {}
        declared = {
            resolve(self.schema, p)["name"]
            for p in [*route.item.get("parameters", []), *op.get("parameters", [])]
        }
        return {k: v for k, v in parsed.query.items() if k in declared}

    def _authenticate(self, header: str) -> None:
        header = header.strip()
        if not header or " " not in header:
            raise ApiError(403, {"detail": "Authentication credentials were not provided."})
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer":
            # Up to 2025.10 another scheme is rejected. From 2025.12 it is ignored, which leaves
            # the request unauthenticated.
            if self.release.at_least("2025.12"):
                raise ApiError(403, {"detail": "Authentication credentials were not provided."})
            raise ApiError(403, {"detail": "Unsupported authentication type"})
        if key.strip() != self.token:
            raise ApiError(403, {"detail": "Token invalid/expired"})

    def _parse(self, prepared: requests.PreparedRequest) -> _Parsed:
        url = urlsplit(prepared.url or "")
        base_path = urlsplit(self.base_url).path
        path = url.path[len(base_path) :] if url.path.startswith(base_path) else url.path
        # Outside /api/v3 the path gets a "!" prefix, so it never matches a route.
        inside = path.startswith(API_PREFIX + "/")
        path = path[len(API_PREFIX) :] if inside else "!" + path
        query = parse_qs(url.query, keep_blank_values=True)
        raw = prepared.body
        body, error = None, None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                error = str(exc)
        headers = {k.lower(): v for k, v in prepared.headers.items()}
        return _Parsed((prepared.method or "GET").upper(), path, query, body, error, headers)

    def _take_fault(self, parsed: _Parsed) -> Fault | None:
        for fault in self._faults:
            if fault.method == parsed.method and fault.path_regex.search(parsed.path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _check_response(self, parsed: _Parsed, status: int, body: Any) -> None:
        if status not in _CHECKED_STATUSES or parsed.path.startswith("!"):
            return
        for problem in self.validator.validate_response(parsed.method, parsed.path, status, body):
            self.response_violations.append(f"{parsed.method} {parsed.path} -> {status}: {problem}")

    def _record(self, parsed: _Parsed, status: int | None) -> None:
        if self._recording:
            self.requests.append(
                RecordedRequest(parsed.method, parsed.path, parsed.query, parsed.body, status)
            )
