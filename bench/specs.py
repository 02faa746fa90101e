"""Generated specs for the benchmark: N objects split across groups, mappings, providers and apps."""

from __future__ import annotations

from typing import Any

import yaml

AUTHORIZATION_FLOW = "default-provider-authorization-implicit-consent"
INVALIDATION_FLOW = "default-provider-invalidation-flow"


def split(size: int) -> dict[str, int]:
    """How many objects of each kind a spec of `size` objects holds.

    A quarter each goes to scope mappings, proxy providers and applications (every application
    has its own provider, which uses its own mapping); groups take the rest, at least one per
    application, since each application is open to its own group.
    """
    units = max(1, size // 4)
    return {
        "groups": max(units, size - 3 * units),
        "scope_mappings": units,
        "proxy_providers": units,
        "applications": units,
    }


def spec_document(counts: dict[str, int], prefix: str, stack: str) -> dict[str, Any]:
    """A spec with `counts` objects of each kind (see `split`), named `prefix...`, owned by `stack`.

    There must be at least as many groups and providers as applications, and as many
    scope mappings as providers.
    """
    groups = [
        {
            "name": f"{prefix}group-{i:04d}",
            "attributes": {"team": f"team-{i % 7}", "cost_center": 1000 + i, "tags": ["bench", str(i)]},
        }
        for i in range(counts["groups"])
    ]
    mappings = [
        {
            "name": f"{prefix}mapping-{i:04d}",
            "scope_name": f"bench_{i:04d}",
            "description": f"Benchmark mapping {i}",
            "expression": f'return {{"bench": {i}, "user": request.user.username}}\n',
        }
        for i in range(counts["scope_mappings"])
    ]
    providers = [
        {
            "name": f"{prefix}provider-{i:04d}",
            "mode": "forward_single",
            "external_host": f"https://app-{i:04d}.bench.example.com",
            "authorization_flow": AUTHORIZATION_FLOW,
            "invalidation_flow": INVALIDATION_FLOW,
            "property_mappings": [mappings[i]["name"]],
            "access_token_validity": "hours=12",
        }
        for i in range(counts["proxy_providers"])
    ]
    applications = [
        {
            "name": f"Bench app {i:04d}",
            "slug": f"{prefix}app-{i:04d}",
            "provider": providers[i]["name"],
            "launch_url": f"https://app-{i:04d}.bench.example.com",
            "ui_group": "Benchmark",
            "access": [groups[i]["name"]],
        }
        for i in range(counts["applications"])
    ]
    return {
        "version": 1,
        "stack": stack,
        "groups": groups,
        "scope_mappings": mappings,
        "proxy_providers": providers,
        "applications": applications,
    }


def spec_text(counts: dict[str, int], prefix: str, stack: str) -> str:
    return yaml.safe_dump(spec_document(counts, prefix, stack), sort_keys=False, width=200)


def empty_spec_text(stack: str) -> str:
    """A spec that owns nothing: `apply --prune` with it deletes everything the stack created."""
    return f"version: 1\nstack: {stack}\n"
