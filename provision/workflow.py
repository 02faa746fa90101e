"""The steps each command is made of: load, connect, read state, plan, apply.

The CLI calls these by keyword and renders what they return; they print nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provision import apply as apply_module
from provision.api.releases import Release, check_supported
from provision.apply import ApplyResult, Reporter, apply_plan
from provision.errors import ProvisionError, UsageError
from provision.export import Exported, export_spec
from provision.output import plan_document
from provision.plan.build import build_plan
from provision.plan.model import Plan
from provision.spec import SpecFile, load_spec
from provision.state import LiveState

if TYPE_CHECKING:
    from provision.api.client import AuthentikClient, ConnectionSettings

log = logging.getLogger("provision")

# Offline plans follow the rules of the newest stable release provision was tested with.
OFFLINE_RELEASE = Release(2026, 2)


def validate(spec_path: Path) -> SpecFile:
    """Check a spec without a server; raise `SpecError` listing every problem."""
    spec_file = load_spec(spec_path)
    build_plan(spec_file, LiveState.empty(OFFLINE_RELEASE))
    return spec_file


def connect(settings: ConnectionSettings) -> tuple[AuthentikClient, tuple[str, ...]]:
    """Open a client, read the server's release and refuse unsupported ones."""
    # Imported here: `validate` and offline plans never need requests.
    from provision.api.client import AuthentikClient, is_loopback_url

    warnings = []
    if settings.url.startswith("http://") and not is_loopback_url(settings.url):
        warnings.append(
            f"{settings.url} uses plain http, so the API token crosses the network unencrypted; use https"
        )
    if settings.verify is False:
        warnings.append("TLS certificate verification is off (--insecure)")
    client = AuthentikClient(settings)
    warning = check_supported(client.release)
    if warning:
        warnings.append(warning)
    return client, tuple(warnings)


def plan_offline(spec_path: Path) -> tuple[SpecFile, Plan]:
    spec_file = load_spec(spec_path)
    return spec_file, build_plan(spec_file, LiveState.empty(OFFLINE_RELEASE))


def plan_online(
    spec_path: Path,
    settings: ConnectionSettings,
    *,
    prune: bool = False,
    adopt: bool = False,
    parallelism: int = 1,
) -> tuple[SpecFile, Plan, LiveState, AuthentikClient]:
    """Load the spec (before any request), then read the live state and diff."""
    spec_file = load_spec(spec_path)
    if adopt and spec_file.spec.stack is None:
        raise UsageError(
            "import needs a spec with a `stack`",
            hint="Add `stack: NAME` to the spec; it names the objects it owns.",
        )
    if prune and spec_file.spec.stack is None:
        raise UsageError(
            "--prune needs a spec with a `stack`",
            hint="Add `stack: NAME` to the spec, so provision knows which objects it owns.",
        )
    client, warnings = connect(settings)
    state = LiveState.fetch(client, spec_file.spec, parallelism=parallelism)
    plan = build_plan(spec_file, state, warnings=warnings, prune=prune, adopt=adopt)
    return spec_file, plan, state, client


def export(settings: ConnectionSettings, *, stack: str | None = None) -> Exported:
    client, _ = connect(settings)
    return export_spec(client, stack=stack)


def adopt(plan: Plan, state: LiveState, client: AuthentikClient) -> int:
    return apply_module.adopt(plan, state, client)


def apply(
    plan: Plan,
    spec_file: SpecFile,
    state: LiveState,
    client: AuthentikClient,
    report: Reporter,
    *,
    parallelism: int = 1,
    continue_on_error: bool = False,
) -> ApplyResult:
    return apply_plan(
        plan, spec_file, state, client, report, parallelism=parallelism, continue_on_error=continue_on_error
    )


def check_saved_plan(path: Path, plan: Plan) -> None:
    """Refuse to apply when authentik no longer gives the plan that was saved and reviewed."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(
            f"cannot read the saved plan {path}: {error}",
            hint="Save it with `provision plan --output json SPEC > FILE`.",
        ) from None
    current = plan_document(plan)
    if not isinstance(saved, dict) or saved.get("format_version") != current["format_version"]:
        raise UsageError(f"{path} is not a plan saved by this version of provision")
    if _plan_essence(saved) != _plan_essence(current):
        raise ProvisionError(
            "authentik changed since the plan was saved, so the saved plan is stale; nothing was written",
            hint="Run `provision plan` again, review it, and apply the new plan.",
        )


def _plan_essence(document: dict[str, Any]) -> Any:
    """The parts of a plan document that must match: each change's address, action and fields."""
    changes = [
        (change["address"], change["action"], change["fields"])
        for change in document.get("changes", [])
        if change.get("action") != "no-op"
    ]
    return (document.get("authentik") or {}).get("url"), sorted(changes, key=lambda item: str(item[:2]))
