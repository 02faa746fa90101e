"""Plans and drift reports as Markdown for a pull-request or merge-request comment.

A summary line first, then per object a table of its changed fields (old → new).
Multi-line values such as scope-mapping expressions go into a collapsed
`<details>` block with a unified diff. Values marked sensitive stay masked.
"""

from __future__ import annotations

import difflib
import re

from provision.output import VERBS, plan_header, show_value, summary_line
from provision.plan.model import ABSENT, Action, FieldChange, Plan, ResourceChange
from provision.secrets import MASK

ICONS = {Action.CREATE: "🟢", Action.UPDATE: "🟡", Action.DELETE: "🔴", Action.NOOP: "⚪"}
DRIFT_VERBS = {
    Action.CREATE: "is missing from authentik",
    Action.DELETE: "is owned by the stack but no longer in the spec (`apply --prune` deletes it)",
}
MAX_BLOCK_LINES = 200
"""Longer diffs are cut, so that a comment stays below the hosts' size limits (64 KiB on GitHub)."""


def render_plan_markdown(plan: Plan) -> str:
    lines = [f"### provision plan: {summary_line(plan).removeprefix('Plan: ')}", "", f"_{plan_header(plan)}_"]
    for change in plan.pending:
        lines += ["", *_change_section(change, VERBS[change.action])]
    if not plan.has_changes:
        lines += ["", "No changes: authentik matches the spec."]
    lines += _notes(plan)
    return "\n".join(lines) + "\n"


def render_drift_markdown(plan: Plan) -> str:
    pending = plan.drifted
    where = f"authentik {plan.release} at {plan.url}"
    if not pending:
        return f"### provision drift: none\n\n{where} matches the spec.\n"
    lines = [f"### provision drift: {len(pending)} object(s) differ from the spec", "", f"_{where}_"]
    for change in pending:
        verb = DRIFT_VERBS.get(change.action, "has drifted")
        lines += ["", *_change_section(change, verb)]
    lines += _notes(plan)
    return "\n".join(lines) + "\n"


def _change_section(change: ResourceChange, verb: str) -> list[str]:
    lines = [f"#### {ICONS[change.action]} `{change.address}` {verb}"]
    rows = [field for field in change.fields if not _is_long_text(field)]
    if rows:
        lines += ["", "| Field | Before | After |", "|---|---|---|"]
        lines += [_row(field, change.action) for field in rows]
    for field in change.fields:
        if _is_long_text(field):
            lines += ["", *_details(field)]
    return lines


def _row(field: FieldChange, action: Action) -> str:
    if field.set_like and action is not Action.CREATE:
        added = ", ".join(_code(show_value(item)) for item in field.added)
        removed = ", ".join(_code(show_value(item)) for item in field.removed)
        before, after = (f"- {removed}" if removed else ""), (f"+ {added}" if added else "")
    elif field.set_like:
        before, after = "", ", ".join(_code(show_value(item)) for item in field.after)
    else:
        before = "" if action is Action.CREATE or field.before is ABSENT else _code(show_value(field.before))
        after = "_(removed)_" if field.after is ABSENT else _code(show_value(field.after))
    return f"| `{field.field}` | {before} | {after} |"


def _is_long_text(field: FieldChange) -> bool:
    if field.sensitive:
        return False
    values = [value for value in (field.before, field.after) if isinstance(value, str)]
    return any("\n" in value for value in values) and all(value != MASK for value in values)


def _details(field: FieldChange) -> list[str]:
    before = field.before if isinstance(field.before, str) else ""
    after = field.after if isinstance(field.after, str) else ""
    body = list(
        difflib.unified_diff(before.splitlines(), after.splitlines(), "authentik", "spec", lineterm="")
    )
    body = body[2:] if before else [f"+{line}" for line in after.splitlines()]
    if len(body) > MAX_BLOCK_LINES:
        body = [*body[:MAX_BLOCK_LINES], f"... {len(body) - MAX_BLOCK_LINES} more lines"]
    fence = _fence(body)
    summary = f"<code>{field.field}</code>: {len(after.splitlines())} lines"
    return ["<details>", f"<summary>{summary}</summary>", "", f"{fence}diff", *body, fence, "", "</details>"]


def _fence(lines: list[str]) -> str:
    """A code fence longer than any run of backticks in the block."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _code(text: str) -> str:
    """`text` as inline code in a table cell, with `|` escaped as GitHub's tables need."""
    text = text.replace("|", "\\|")
    ticks = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _notes(plan: Plan) -> list[str]:
    lines: list[str] = []
    if plan.orphans and not plan.prune:
        lines += [
            "",
            "**Owned by the stack but no longer in the spec** (kept; `apply --prune` removes them):",
        ]
        lines += _bullets(tuple(f"`{change.address}`" for change in plan.orphans))
    if plan.deferred:
        lines += ["", "**Resolved at apply time** (not checked offline):", *_bullets(plan.deferred)]
    if plan.warnings:
        lines += ["", "**Warnings:**", *_bullets(plan.warnings)]
    return lines


def _bullets(items: tuple[str, ...]) -> list[str]:
    return [f"- {item}" for item in items]
