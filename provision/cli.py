"""The `provision` command line: validate, plan, apply and drift."""

from __future__ import annotations

import enum
import logging
import sys
import tempfile
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from provision import __version__, output
from provision.api.client import ConnectionSettings
from provision.errors import (
    EXIT_BUG,
    EXIT_DRIFT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ApplyRefused,
    ProvisionError,
    SpecError,
    UsageError,
)
from provision.plan.model import ResourceChange
from provision.secrets import RedactingFilter, redact

app = typer.Typer(
    name="provision",
    help="Plan, apply and drift-check authentik configuration from a YAML spec.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

log = logging.getLogger("provision")


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


SpecArgument = Annotated[
    Path, typer.Argument(help="Path of the spec file (YAML, `version: 1`).", show_default=False)
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="AUTHENTIK_URL",
        help="Base URL of authentik, such as https://authentik.example.com.",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="AUTHENTIK_TOKEN",
        help="API token (intent `api`). Prefer the AUTHENTIK_TOKEN variable: options show up in process lists.",
        show_envvar=True,
    ),
]
CaBundleOption = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle",
        envvar="AUTHENTIK_CA_BUNDLE",
        help="CA certificate file (PEM) to verify authentik's TLS certificate.",
    ),
]
InsecureOption = Annotated[
    bool,
    typer.Option(
        "--insecure",
        envvar="AUTHENTIK_INSECURE",
        help="Skip TLS certificate verification (not recommended).",
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=1.0, help="Seconds to wait for each HTTP response.")
]
OutputOption = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="Output format: text for people, json for machines."),
]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(function: F) -> F:
    """Map expected failures to a message and exit 1, Ctrl-C to 130, and anything else to a bug report."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except typer.Exit:
            raise
        except SpecError as error:
            count = len(error.problems)
            output.emit(f"Error: the spec has {count} problem{'s' if count != 1 else ''}:", err=True)
            for problem in error.problems:
                output.emit(f"  {problem}".replace("\n", "\n  "), err=True)
            output.emit("Nothing was written to authentik.", err=True)
            raise typer.Exit(error.exit_code) from None
        except ProvisionError as error:
            output.emit(f"Error: {error}", err=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            output.emit("Interrupted.", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as error:  # a bug: say so, and keep the details for the report
            report = _write_crash_report()
            output.emit(
                f"Internal error (a bug in provision {__version__}): {type(error).__name__}. "
                f"Details are in {report}; please include them when you report it.",
                err=True,
            )
            raise typer.Exit(EXIT_BUG) from None

    return wrapper  # type: ignore[return-value]


def _write_crash_report() -> str:
    with tempfile.NamedTemporaryFile("w", prefix="provision-crash-", suffix=".txt", delete=False) as file:
        file.write(redact(traceback.format_exc()))
        return file.name


def _settings(
    url: str | None, token: str | None, ca_bundle: Path | None, insecure: bool, timeout: float
) -> ConnectionSettings:
    if not url:
        raise UsageError(
            "no authentik URL given",
            hint="Set AUTHENTIK_URL or pass --url https://authentik.example.com.",
        )
    if not token:
        raise UsageError(
            "no API token given",
            hint="Set AUTHENTIK_TOKEN to an API token (intent `api`) of a user with admin rights.",
        )
    if ca_bundle is not None and insecure:
        raise UsageError("--ca-bundle and --insecure contradict each other", hint="Pass only one of them.")
    verify: bool | str = str(ca_bundle) if ca_bundle is not None else not insecure
    if ca_bundle is not None and not ca_bundle.is_file():
        raise UsageError(f"CA bundle {ca_bundle} not found")
    return ConnectionSettings(url=url, token=token, verify=verify, timeout=timeout)


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("provision")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # urllib3 logs full URLs at DEBUG; keep it quiet unless asked twice.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose >= 3 else logging.WARNING)


def _version_callback(value: bool) -> None:
    if value:
        output.emit(f"provision {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="More detail: -v per-request info, -vv debug."),
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Plan, apply and drift-check authentik configuration from a YAML spec."""
    _configure_logging(verbose, quiet)


@app.command()
@handle_errors
def validate(spec: SpecArgument) -> None:
    """Check a spec offline: syntax, types, names and references within the file."""
    from provision import workflow

    spec_file = workflow.validate(spec)
    counts = {
        section: len(getattr(spec_file.spec, section))
        for section in ("groups", "scope_mappings", "proxy_providers", "applications", "outposts")
    }
    summary = ", ".join(f"{count} {section.replace('_', ' ')}" for section, count in counts.items() if count)
    output.emit(f"{spec}: valid ({summary or 'no objects'}).")


@app.command()
@handle_errors
def plan(
    spec: SpecArgument,
    offline: Annotated[
        bool, typer.Option("--offline", help="Plan against an empty authentik, without a server.")
    ] = False,
    output_format: OutputOption = OutputFormat.text,
    url: UrlOption = None,
    token: TokenOption = None,
    ca_bundle: CaBundleOption = None,
    insecure: InsecureOption = False,
    timeout: TimeoutOption = 30.0,
    show_unchanged: Annotated[
        bool, typer.Option("--show-unchanged", help="List objects that need no change too.")
    ] = False,
) -> None:
    """Show what apply would change, field by field. Never writes."""
    from provision import workflow

    if offline:
        _, result = workflow.plan_offline(spec)
    else:
        _, result, _, _ = workflow.plan_online(spec, _settings(url, token, ca_bundle, insecure, timeout))
    if output_format is OutputFormat.json:
        output.emit(output.render_json(output.plan_document(result)))
    else:
        output.emit(output.render_plan_text(result, show_unchanged=show_unchanged))


@app.command()
@handle_errors
def apply(
    spec: SpecArgument,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking for confirmation.")
    ] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    ca_bundle: CaBundleOption = None,
    insecure: InsecureOption = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Show the plan, ask for confirmation, then write the changes in dependency order."""
    from provision import workflow

    spec_file, result, state, client = workflow.plan_online(
        spec, _settings(url, token, ca_bundle, insecure, timeout)
    )
    output.emit(output.render_plan_text(result))
    if not result.has_changes:
        return
    _confirm(auto_approve)

    output.emit("")

    def report(verb: str, change: ResourceChange, detail: str) -> None:
        output.emit(f"  {verb} {change.address}" + (f": {detail}" if detail else ""))

    outcome = workflow.apply(result, spec_file, state, client, report)
    output.emit(
        f"\nApply complete: {len(outcome.applied)} object(s) changed with {outcome.writes} write request(s)."
    )


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not output.stdin_is_terminal():
        raise ApplyRefused(
            "refusing to apply without confirmation: standard input is not a terminal",
            hint="Review the plan above, then run again with --auto-approve.",
        )
    answer = typer.prompt("\nApply these changes? Only 'yes' is accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise ApplyRefused("apply cancelled; nothing was written")


@app.command()
@handle_errors
def drift(
    spec: SpecArgument,
    output_format: OutputOption = OutputFormat.text,
    url: UrlOption = None,
    token: TokenOption = None,
    ca_bundle: CaBundleOption = None,
    insecure: InsecureOption = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Compare authentik with the spec. Exit 0: no drift, 2: drift found, 1: error."""
    from provision import workflow

    _, result, _, _ = workflow.plan_online(spec, _settings(url, token, ca_bundle, insecure, timeout))
    if output_format is OutputFormat.json:
        output.emit(output.render_json(output.drift_document(result)))
    else:
        output.emit(output.render_drift_text(result))
    raise typer.Exit(EXIT_DRIFT if result.has_changes else EXIT_OK)


def main() -> None:
    app()
