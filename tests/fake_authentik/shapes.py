"""Cutting records down to what one release's response schema declares.

The handlers compute a superset of fields (every release's names); pruning against the
release's component keeps exactly that release's fields, in schema order, recursively
through nested objects such as ``users_obj`` or ``provider_obj``.
"""

from __future__ import annotations

from typing import Any

from .schemas import Schema, resolve


def prune(schema: Schema, value: Any, node: Any) -> Any:
    """``value`` reduced to the properties ``node`` declares; free-form objects stay whole."""
    node = resolve(schema, node)
    if not isinstance(node, dict):
        return value
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in node and value is not None:
            return prune(schema, value, node[combinator][0])
    if isinstance(value, dict) and "properties" in node:
        props = node["properties"]
        return {key: prune(schema, value[key], props[key]) for key in props if key in value}
    if isinstance(value, list) and "items" in node:
        return [prune(schema, item, node["items"]) for item in value]
    return value
