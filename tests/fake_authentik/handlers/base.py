"""What every resource of the fake shares: the request and reply types, list pagination,
schema-driven cleaning of request bodies, and the generic list/create/read/update/delete."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ApiError, does_not_exist, invalid, not_found
from ..schemas import Schema, resolve

if TYPE_CHECKING:
    from ..fake import FakeAuthentik

Record = dict[str, Any]

SLUG_PATTERN = "^[-a-zA-Z0-9_]+$"
SLUG_MESSAGE = "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens."


@dataclass
class Request:
    """One API call as a handler sees it; ``path`` is relative to /api/v3."""

    method: str
    path: str
    template: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def flag(self, name: str, default: bool) -> bool:
        """A boolean query parameter the way authentik reads them: only "true" is true."""
        value = self.first(name)
        return default if value is None else value.lower() == "true"


@dataclass
class Reply:
    status: int
    body: Any = None


@dataclass
class WriteSchema:
    """The properties a write operation accepts in this release, and which are required."""

    properties: dict[str, Schema] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)


def check_value(value: Any, schema: Schema) -> str | None:
    """DRF's complaint about one field value, or None. Mirrors the field types drf-spectacular
    turns into these schemas; stricter than DRF about numeric strings (never coerced)."""
    if value is None:
        return None if schema.get("nullable") else "This field may not be null."
    kind = schema.get("type")
    if "enum" in schema and value not in schema["enum"]:
        return f'"{value}" is not a valid choice.'
    if kind == "string":
        if not isinstance(value, str):
            return "Not a valid string."
        if value == "" and schema.get("minLength", 0) >= 1:
            return "This field may not be blank."
        if schema.get("format") == "uuid" and not _is_uuid(value):
            return "Must be a valid UUID."
        if "pattern" in schema and not re.search(schema["pattern"], value):
            if schema["pattern"] == SLUG_PATTERN:
                return SLUG_MESSAGE
            return "This value does not match the required pattern."
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"Ensure this field has no more than {schema['maxLength']} characters."
    elif kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return "A valid integer is required."
    elif kind == "boolean" and not isinstance(value, bool):
        return "Must be a valid boolean."
    elif kind == "object" and not isinstance(value, dict):
        return f'Expected a dictionary of items but got type "{type(value).__name__}".'
    elif kind == "array":
        if not isinstance(value, list):
            return f'Expected a list of items but got type "{type(value).__name__}".'
        for item in value:
            problem = check_value(item, schema.get("items", {}))
            if problem:
                return problem
    return None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def same_pk(left: Any, right: Any) -> bool:
    """Compare primary keys that may be uuids in different letter case."""
    return str(left).lower() == str(right).lower()


def paginate(server: FakeAuthentik, request: Request, items: list[Any]) -> Reply:
    """authentik's Pagination class: page numbers, 0 when there is no next/previous page."""
    release = server.release
    # 2025.12 made page sizes settings: default 20, maximum 100 (capped silently).
    default_size, max_size = (20, 100) if release.at_least("2025.12") else (100, None)
    size = _positive_int(request.first("page_size")) or default_size
    if max_size is not None:
        size = min(size, max_size)
    total_pages = max(1, math.ceil(len(items) / size))
    page = _positive_int(request.first("page") or "1")
    if page is None or page > total_pages:
        raise ApiError(404, {"detail": "Invalid page."})
    start = (page - 1) * size
    results = items[start : start + size]
    body: dict[str, Any] = {
        "pagination": {
            "next": page + 1 if page < total_pages else 0,
            "previous": page - 1 if page > 1 else 0,
            "count": len(items),
            "current": page,
            "total_pages": total_pages,
            "start_index": start + 1 if results else 0,
            "end_index": start + len(results),
        },
        "results": results,
    }
    if release.at_least("2025.8"):  # 2025.8 added the required `autocomplete` key
        body["autocomplete"] = {}
    return Reply(200, body)


def _positive_int(text: str | None) -> int | None:
    try:
        number = int(text) if text is not None else None
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


class Resource:
    """One collection of the API (``core/groups/`` and its items) over one kind of record.

    Subclasses name their paths and fill in the hooks; the generic methods do the DRF
    ModelViewSet work. Records in the store are shaped like the API's responses in the release.
    """

    kind: ClassVar[str]
    model: ClassVar[str]  # Django model class name, used in 404 texts from 2025.4
    component: ClassVar[str]  # response schema component
    collection: ClassVar[tuple[str, ...]] = ()
    item: ClassVar[tuple[str, ...]] = ()
    lookup: ClassVar[str] = "pk"
    ordering: ClassVar[tuple[str, ...]] = ("name",)
    search_fields: ClassVar[tuple[str, ...]] = ("name",)
    #: query parameter -> record field compared exactly (case-insensitively for __iexact)
    exact_filters: ClassVar[dict[str, str]] = {}
    #: writable field -> kind of record it references
    relations: ClassVar[dict[str, str]] = {}
    #: fields a PUT resets when left out (many-to-many fields declared with default=list)
    put_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, server: FakeAuthentik) -> None:
        self.server = server

    # -- routing ---------------------------------------------------------------------------

    def routes(self) -> dict[tuple[str, str], Callable[[Request], Reply]]:
        table: dict[tuple[str, str], Callable[[Request], Reply]] = {}
        for template in self.collection:
            table[(template, "GET")] = self.list
            table[(template, "POST")] = self.create
        for template in self.item:
            table[(template, "GET")] = self.retrieve
            table[(template, "PUT")] = self.update
            table[(template, "PATCH")] = self.partial_update
            table[(template, "DELETE")] = self.destroy
        return table

    # -- store access ----------------------------------------------------------------------

    @property
    def records(self) -> list[Record]:
        return self.server.store(self.kind)

    def get(self, request: Request) -> Record:
        value = next(iter(request.params.values()))
        for record in self.records:
            if same_pk(record[self.lookup], value):
                return record
        raise not_found(self.server.release, self.model)

    # -- hooks -----------------------------------------------------------------------------

    def filter(self, records: list[Record], request: Request) -> list[Record]:
        return records

    def defaults(self) -> Record:
        """Field values of a new record when the request leaves them out."""
        return {}

    def validate(self, data: Record, instance: Record | None, request: Request) -> Record:
        """Object-level checks after the field checks; raise ``invalid(...)`` to reject."""
        return data

    def new_record(self, data: Record) -> Record:
        return {"pk": self.server.new_uuid(), **data}

    def save(self, record: Record, data: Record, request: Request) -> None:
        """Apply validated data to a record; subclasses add server-side side effects."""
        record.update(data)

    def derive(self, record: Record) -> None:
        """Recompute read-only fields that depend on other records."""

    def render(self, record: Record, request: Request) -> Record:
        """Return the response body for one record (subclasses apply options like include_users)."""
        return self.server.shape(self.component, record)

    def on_delete(self, record: Record) -> None:
        """Cascade a delete the way authentik's models do."""

    # -- generic viewset -------------------------------------------------------------------

    def list(self, request: Request) -> Reply:
        records = self.filter(list(self.records), request)
        records = self._search(records, request.first("search"))
        records = self._order(records, request.first("ordering"))
        reply = paginate(self.server, request, records)
        reply.body["results"] = [self.render(r, request) for r in reply.body["results"]]
        return reply

    def create(self, request: Request) -> Reply:
        data = self.clean(request, None)
        record = self.new_record(self.defaults())
        self.records.append(record)
        self.save(record, data, request)
        self.server.refresh()
        return Reply(201, self.render(record, request))

    def retrieve(self, request: Request) -> Reply:
        return Reply(200, self.render(self.get(request), request))

    def update(self, request: Request) -> Reply:
        record = self.get(request)
        data = self.clean(request, record)
        self.save(record, {**self._put_defaults(), **data}, request)
        self.server.refresh()
        return Reply(200, self.render(record, request))

    def partial_update(self, request: Request) -> Reply:
        record = self.get(request)
        data = self.clean(request, record, partial=True)
        self.save(record, data, request)
        self.server.refresh()
        return Reply(200, self.render(record, request))

    def destroy(self, request: Request) -> Reply:
        record = self.get(request)
        self.records.remove(record)
        self.on_delete(record)
        self.server.refresh()
        return Reply(204)

    # -- body cleaning ---------------------------------------------------------------------

    def clean(self, request: Request, instance: Record | None, partial: bool = False) -> Record:
        """DRF's serializer validation: drop unknown fields, then required, types,
        references, and finally the object-level ``validate`` hook."""
        body = request.body
        if not isinstance(body, dict):
            got = type(body).__name__ if body is not None else "None"
            raise invalid({"non_field_errors": f"Invalid data. Expected a dictionary, but got {got}."})
        schema = self.server.write_schema(request.template, request.method)
        data = {k: v for k, v in body.items() if k in schema.properties}
        errors: dict[str, Any] = {}
        if not partial:
            for name in schema.required:
                if name not in data:
                    errors[name] = ["This field is required."]
        for name, value in data.items():
            problem = check_value(value, resolve(self.server.schema, schema.properties[name]))
            problem = problem or self._check_reference(name, value)
            if problem:
                errors[name] = [problem]
        if errors:
            raise invalid(errors)
        return self.validate(data, instance, request)

    def _put_defaults(self) -> Record:
        return {k: v() if callable(v) else v for k, v in self.put_defaults.items()}

    def _check_reference(self, name: str, value: Any) -> str | None:
        kind = self.relations.get(name)
        if kind is None or value is None:
            return None
        for item in value if isinstance(value, list) else [value]:
            if self.server.lookup(kind, item) is None:
                return does_not_exist(item)
        return None

    # -- list helpers ----------------------------------------------------------------------

    def exact(self, records: list[Record], request: Request) -> list[Record]:
        """Apply ``exact_filters``; ``__iexact`` parameters compare case-insensitively."""
        for param, field_name in self.exact_filters.items():
            value = request.first(param)
            if value is None:
                continue
            if param.endswith("__iexact"):
                records = [r for r in records if str(r.get(field_name, "")).lower() == value.lower()]
            else:
                records = [r for r in records if _query_equal(r.get(field_name), value)]
        return records

    def _search(self, records: list[Record], term: str | None) -> list[Record]:
        if not term:
            return records
        term = term.lower()
        return [r for r in records if any(term in str(r.get(f, "")).lower() for f in self.search_fields)]

    def _order(self, records: list[Record], ordering: str | None) -> list[Record]:
        keys = list(self.ordering)
        if ordering:
            requested = [k.strip() for k in ordering.split(",") if k.strip()]
            # DRF's OrderingFilter ignores fields it doesn't know.
            valid = [k for k in requested if k.lstrip("-") in (records[0] if records else {})]
            keys = valid or keys
        for key in reversed(keys):
            name = key.lstrip("-")
            records = sorted(records, key=lambda r: _sort_key(r.get(name)), reverse=key[0] == "-")
        return records


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def _query_equal(stored: Any, text: str) -> bool:
    """A query string compared to a stored JSON value the way django-filter parses it."""
    if isinstance(stored, bool):
        return text.lower() == str(stored).lower()
    return str(stored).lower() == text.lower() if _is_uuid(text) else str(stored) == text


def records_named(records: Iterable[Record], key: str, values: Iterable[Any]) -> list[Record]:
    wanted = [str(v).lower() for v in values]
    return [r for r in records if str(r.get(key)).lower() in wanted]
