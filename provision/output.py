"""Rendering of plans, drift reports and apply progress as text or JSON.

Everything printed goes through `emit`, which scrubs every registered secret
as a last line of defence; values marked sensitive are already masked in the plan.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from typing import Any

import typer

from provision.plan.model import (
    ABSENT,
    FORMAT_VERSION,
    Action,
    Deferred,
    FieldChange,
    Plan,
    ResourceChange,
    printable,
)
from provision.secrets import MASK, Secret, redact

SYMBOLS = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-", Action.NOOP: "="}
VERBS = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated",
    Action.DELETE: "will be deleted",
    Action.NOOP: "is up to date",
}
MAX_DIFF_LINES = 40


def emit(text: str = "", *, err: bool = False) -> None:
    typer.echo(redact(text), err=err)


COLORS = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.DELETE: "red"}


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def use_color(*, disabled: bool = False) -> bool:
    """Colour only on a terminal, never with `--no-color` or a non-empty NO_COLOR (no-color.org)."""
    if disabled or os.environ.get("NO_COLOR"):
        return False
    return stdout_is_terminal()


def _paint(text: str, action: Action, color: bool) -> str:
    if not color or action not in COLORS:
        return text
    return typer.style(text, fg=COLORS[action])


def _paint_diff_line(line: str, color: bool) -> str:
    """Colour one line of a field's listing: `+` added green, `-` removed red."""
    stripped = line.lstrip()
    if stripped.startswith("+") and not stripped.startswith("+++"):
        return _paint(line, Action.CREATE, color)
    if stripped.startswith("-") and not stripped.startswith("---"):
        return _paint(line, Action.DELETE, color)
    return line


# -- values ---------------------------------------------------------------------


def show_value(value: Any) -> str:
    if value is ABSENT:
        return "(none)"
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Deferred):
        return f"{value.name!r} (resolved at apply time)"
    if isinstance(value, str):
        if value == MASK:
            return MASK
        if "\n" in value:
            return f"<{value.count(chr(10)) + 1} lines>"
        return printable(json.dumps(value, ensure_ascii=False))
    return printable(json.dumps(json_value(value), ensure_ascii=False))


def json_value(value: Any) -> Any:
    if value is ABSENT:
        return None
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Deferred):
        return {"resolved_at_apply": value.name}
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


def _text_diff(before: str, after: str) -> list[str]:
    lines = list(
        difflib.unified_diff(
            str(before).splitlines(), str(after).splitlines(), "authentik", "spec", lineterm="", n=1
        )
    )[2:]
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines"]
    return lines


def field_lines(change: FieldChange, action: Action) -> list[str]:
    name = change.field
    if change.set_like and action is not Action.CREATE:
        parts = [f"+ {show_value(item)}" for item in change.added] + [
            f"- {show_value(item)}" for item in change.removed
        ]
        return [f"{name}: {', '.join(parts)}"]
    if change.set_like:
        return [f"{name}: {', '.join(show_value(item) for item in change.after)}"]
    if action is Action.CREATE or change.before is ABSENT:
        return [f"{name}: {show_value(change.after)}"]
    if change.after is ABSENT:
        return [f"{name}: {show_value(change.before)} -> (removed)"]
    multiline = (
        isinstance(change.before, str)
        and isinstance(change.after, str)
        and ("\n" in change.before or "\n" in change.after)
    )
    if multiline and not change.sensitive:
        return [f"{name}:", *("  " + line for line in _text_diff(change.before, change.after))]
    return [f"{name}: {show_value(change.before)} -> {show_value(change.after)}"]


# -- plans ----------------------------------------------------------------------


def plan_header(plan: Plan) -> str:
    if plan.offline:
        return "Offline plan against an empty authentik (references outside the spec are resolved at apply time)."
    return f"Plan against authentik {plan.release} at {plan.url}"


def render_plan_text(plan: Plan, *, show_unchanged: bool = False, color: bool = False) -> str:
    """Render the plan for people. `color` adds ANSI colours (green create, yellow update, red delete)."""
    lines = [plan_header(plan), ""]
    for change in plan.changes + (plan.orphans if plan.prune else ()):
        if change.action is Action.NOOP and not show_unchanged:
            continue
        header = f"{SYMBOLS[change.action]} {change.address} {VERBS[change.action]}"
        lines.append(_paint(header, change.action, color))
        lines.extend(_field_block(change, color))
    if not plan.has_changes:
        lines.append("No changes: authentik matches the spec.")
    lines.extend(_warning_lines(plan))
    lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines)


def _field_block(change: ResourceChange, color: bool) -> list[str]:
    return [
        _paint_diff_line("    " + line, color)
        for field_change in change.fields
        for line in field_lines(field_change, change.action)
    ]


def _warning_lines(plan: Plan) -> list[str]:
    lines = []
    if plan.orphans and not plan.prune:
        lines += ["", "Owned by the stack but no longer in the spec (kept; `apply --prune` removes them):"]
        for change in plan.orphans:
            what = "delete" if change.action is Action.DELETE else "remove the memberships it added to"
            lines.append(f"  - {change.address} (would {what} it)")
    if plan.deferred:
        lines += ["", "Resolved at apply time (not checked offline):"]
        lines += [f"  - {item}" for item in plan.deferred]
    if plan.warnings:
        lines += ["", "Warnings:"]
        lines += [f"  - {warning}" for warning in plan.warnings]
    return lines


def summary_line(plan: Plan) -> str:
    return (
        f"Plan: {plan.count(Action.CREATE)} to create, {plan.count(Action.UPDATE)} to update, "
        f"{plan.count(Action.DELETE)} to delete, {plan.count(Action.NOOP)} unchanged."
    )


def plan_document(plan: Plan) -> dict[str, Any]:
    """Build the machine-readable plan (`--output json`). `format_version` changes only on incompatible edits."""
    return {
        "format_version": FORMAT_VERSION,
        "authentik": None if plan.offline else {"url": plan.url, "version": str(plan.release)},
        "offline": plan.offline,
        "changed": plan.has_changes,
        "summary": {action.value: plan.count(action) for action in Action},
        "changes": [
            _change_document(change) for change in plan.changes + (plan.orphans if plan.prune else ())
        ],
        "orphans": [_change_document(change) for change in plan.orphans],
        "warnings": list(plan.warnings),
        "deferred": list(plan.deferred),
    }


def _change_document(change: ResourceChange) -> dict[str, Any]:
    fields = []
    for field_change in change.fields:
        item: dict[str, Any] = {
            "field": field_change.field,
            "before": json_value(field_change.before),
            "after": json_value(field_change.after),
            "sensitive": field_change.sensitive,
        }
        if field_change.set_like:
            item["added"] = json_value(field_change.added)
            item["removed"] = json_value(field_change.removed)
        fields.append(item)
    return {
        "address": change.address,
        "kind": change.section,
        "key": change.key,
        "action": change.action.value,
        "fields": fields,
    }


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    return json_value(value) if isinstance(value, Deferred) else str(value)


# -- drift ----------------------------------------------------------------------


def render_drift_text(plan: Plan, *, color: bool = False) -> str:
    pending = plan.drifted
    if not pending:
        return f"No drift: authentik {plan.release} at {plan.url} matches the spec."
    lines = [
        f"Drift: {len(pending)} object(s) in authentik {plan.release} at {plan.url} differ from the spec."
    ]
    for change in pending:
        if change.action is Action.CREATE:
            lines.append(_paint(f"  {change.address}: missing from authentik", change.action, color))
            continue
        if change.action is Action.DELETE:
            message = f"  {change.address}: owned by the stack but no longer in the spec (`apply --prune` deletes it)"
            lines.append(_paint(message, change.action, color))
            continue
        lines.append(_paint(f"  {change.address}:", change.action, color))
        lines.extend(_field_block(change, color))
    if plan.warnings:
        lines += ["", "Warnings:", *(f"  - {warning}" for warning in plan.warnings)]
    return "\n".join(lines)


def drift_document(plan: Plan) -> dict[str, Any]:
    document = plan_document(plan)
    document["drifted"] = bool(plan.drifted)
    return document


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()
