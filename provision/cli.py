"""The `provision` command line: validate, plan, apply and drift."""

from __future__ import annotations

import enum
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from provision import __version__, output
from provision.errors import (
    EXIT_BUG,
    EXIT_DRIFT,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ApplyRefused,
    ProvisionError,
    SpecError,
    UsageError,
)
from provision.plan.model import ResourceChange
from provision.render.markdown import render_drift_markdown, render_plan_markdown
from provision.render.proxy import DEFAULT_OUTPOST_URL, Flavor
from provision.secrets import RedactingFilter, redact, register_secret

if TYPE_CHECKING:
    # requests, pydantic and PyYAML load only in the commands that need them: `--help` stays fast.
    from provision.api.client import ConnectionSettings


def _click_class(name: str) -> type[Exception]:
    """Return one of click's exception classes, whether typer vendors click (0.29+) or depends on it."""
    return next(base for base in typer.BadParameter.__mro__ if base.__name__ == name)


ClickUsageError = _click_class("UsageError")
ClickException = _click_class("ClickException")


class ProvisionGroup(TyperGroup):
    """Click's group with provision's exit codes.

    Click exits 2 on a usage error, which `drift` uses for "drift found"; a mistyped
    option in a cron job must not read as drift, so usage errors exit 1 here.
    """

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **kwargs: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **kwargs)
        except ClickUsageError as error:
            error.exit_code = EXIT_ERROR  # type: ignore[attr-defined]
            if not standalone_mode:
                raise
            error.show()  # type: ignore[attr-defined]
            sys.exit(EXIT_ERROR)
        except ClickException as error:
            if not standalone_mode:
                raise
            error.show()  # type: ignore[attr-defined]
            sys.exit(EXIT_ERROR)
        except typer.Abort:
            if not standalone_mode:
                raise
            output.emit("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else EXIT_OK)


app = typer.Typer(
    name="provision",
    cls=ProvisionGroup,
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
    markdown = "markdown"


SpecArgument = Annotated[
    Path,
    typer.Argument(help="Path of the spec file (YAML, `version: 1`).", show_default=False, metavar="SPEC"),
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
    typer.Option(
        "--output",
        "-o",
        help="Output format: text for people, json for machines, markdown for a pull-request comment.",
    ),
]
NoColorOption = Annotated[
    bool,
    typer.Option(
        "--no-color",
        help="Plain text without colours. Colours are also off when stdout is not a terminal or NO_COLOR is set.",
    ),
]

DEFAULT_PARALLELISM = 4
ParallelismOption = Annotated[
    int,
    typer.Option(
        "--parallelism",
        envvar="PROVISION_PARALLELISM",
        min=1,
        max=32,
        help="Requests sent at once: list pages read while planning, and writes within one dependency level.",
    ),
]
PruneOption = Annotated[
    bool,
    typer.Option("--prune", help="Also delete objects the spec's stack owns that are no longer in the spec."),
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
    from provision.api.client import ConnectionSettings

    if token:
        register_secret(token)
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
    # Scrub the token from every output from the start, so even a crash report of a
    # command that never connects (validate, plan --offline) cannot hold it.
    token = os.environ.get("AUTHENTIK_TOKEN")
    if token:
        register_secret(token)
    _configure_logging(verbose, quiet)


@app.command()
@handle_errors
def validate(
    specs: Annotated[
        list[Path],
        typer.Argument(
            metavar="SPEC", help="Paths of the spec files (YAML, `version: 1`).", show_default=False
        ),
    ],
    env_placeholders: Annotated[
        bool,
        typer.Option(
            "--env-placeholders",
            help="Use a placeholder for each !env variable that is not set (pre-commit, CI without secrets).",
        ),
    ] = False,
) -> None:
    """Check spec files offline: syntax, types, names and references within each file."""
    from provision import hooks

    with hooks.env_placeholders(specs if env_placeholders else []):
        failed = sum(not _validate_one(spec, several=len(specs) > 1) for spec in specs)
    if failed:
        output.emit(f"{failed} of {len(specs)} spec files are invalid.", err=True)
        raise typer.Exit(EXIT_ERROR)


def _validate_one(spec: Path, *, several: bool) -> bool:
    """Validate one file and print its summary; with several files, report a failure and go on."""
    from provision import workflow

    try:
        spec_file = workflow.validate(spec)
    except ProvisionError as error:
        if not several:
            raise
        problems = error.problems if isinstance(error, SpecError) else [error]
        output.emit(f"{spec}: invalid", err=True)
        for problem in problems:
            output.emit(f"  {problem}".replace("\n", "\n  "), err=True)
        return False
    counts = {
        section: len(getattr(spec_file.spec, section))
        for section in ("groups", "scope_mappings", "proxy_providers", "applications", "outposts")
    }
    summary = ", ".join(f"{count} {section.replace('_', ' ')}" for section, count in counts.items() if count)
    output.emit(f"{spec}: valid ({summary or 'no objects'}).")
    return True


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
    no_color: NoColorOption = False,
    prune: PruneOption = False,
    parallelism: ParallelismOption = DEFAULT_PARALLELISM,
) -> None:
    """Show what apply would change, field by field. Never writes."""
    from provision import workflow

    if offline:
        _, result = workflow.plan_offline(spec)
    else:
        settings = _settings(url, token, ca_bundle, insecure, timeout)
        _, result, _, _ = workflow.plan_online(spec, settings, prune=prune, parallelism=parallelism)
    if output_format is OutputFormat.json:
        output.emit(output.render_json(output.plan_document(result)))
    elif output_format is OutputFormat.markdown:
        output.emit(render_plan_markdown(result))
    else:
        color = output.use_color(disabled=no_color)
        output.emit(output.render_plan_text(result, show_unchanged=show_unchanged, color=color))


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
    prune: PruneOption = False,
    parallelism: ParallelismOption = DEFAULT_PARALLELISM,
    continue_on_error: Annotated[
        bool,
        typer.Option(
            "--continue-on-error",
            help="After a failed write, skip only the objects that depend on it, and go on.",
        ),
    ] = False,
    saved_plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="A plan saved with `plan --output json`: apply only if authentik still gives the same plan.",
        ),
    ] = None,
) -> None:
    """Show the plan, ask for confirmation, then write the changes in dependency order."""
    from provision import workflow

    spec_file, result, state, client = workflow.plan_online(
        spec, _settings(url, token, ca_bundle, insecure, timeout), prune=prune, parallelism=parallelism
    )
    output.emit(output.render_plan_text(result))
    if saved_plan is not None:
        workflow.check_saved_plan(saved_plan, result)
    if not result.has_changes:
        return
    _confirm(auto_approve)

    output.emit("")

    def report(verb: str, change: ResourceChange, detail: str) -> None:
        output.emit(f"  {verb} {change.address}" + (f": {detail}" if detail else ""))

    outcome = workflow.apply(
        result,
        spec_file,
        state,
        client,
        report,
        parallelism=parallelism,
        continue_on_error=continue_on_error,
    )
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
    try:
        answer = typer.prompt("\nApply these changes? Only 'yes' is accepted", default="", show_default=False)
    except (typer.Abort, EOFError):
        answer = ""
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
    no_color: NoColorOption = False,
    parallelism: ParallelismOption = DEFAULT_PARALLELISM,
) -> None:
    """Compare authentik with the spec. Exit 0: no drift, 2: drift found, 1: error."""
    from provision import workflow

    settings = _settings(url, token, ca_bundle, insecure, timeout)
    _, result, _, _ = workflow.plan_online(spec, settings, parallelism=parallelism)
    if output_format is OutputFormat.json:
        output.emit(output.render_json(output.drift_document(result)))
    elif output_format is OutputFormat.markdown:
        output.emit(render_drift_markdown(result))
    else:
        output.emit(output.render_drift_text(result, color=output.use_color(disabled=no_color)))
    raise typer.Exit(EXIT_DRIFT if result.drifted else EXIT_OK)


@app.command("import")
@handle_errors
def import_(
    spec: SpecArgument,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Adopt without asking for confirmation.")
    ] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    ca_bundle: CaBundleOption = None,
    insecure: InsecureOption = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Adopt existing objects that match the spec by name into its stack, after showing the diff.

    Only the stack's inventory is written; run apply afterwards to change the objects themselves.
    """
    from provision import workflow

    spec_file, result, state, client = workflow.plan_online(
        spec, _settings(url, token, ca_bundle, insecure, timeout), adopt=True
    )
    output.emit(output.render_plan_text(result))
    stack = spec_file.spec.stack
    if not result.adoptions:
        output.emit(
            f"\nNothing to adopt: every existing object of the spec is already in the stack {stack!r}."
        )
        return
    output.emit(f"\nThese existing objects will be adopted into the stack {stack!r}:")
    for section, key, _ in result.adoptions:
        output.emit(f'  {section}["{key}"]')
    _confirm(auto_approve)
    count = workflow.adopt(result, state, client)
    output.emit(f"\nAdopted {count} object(s). `provision plan` shows what apply would still change.")


@app.command()
@handle_errors
def export(
    output_file: Annotated[
        Path | None,
        typer.Option("--output-file", "-f", help="Write the spec to this file instead of standard output."),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack", help="Put `stack: NAME` into the spec; then adopt the objects with `provision import`."
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    ca_bundle: CaBundleOption = None,
    insecure: InsecureOption = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Write a spec of the live instance's groups, scope mappings, proxy providers, applications and outposts.

    Secret-looking attribute values become `!env NAME` placeholders; their names are listed on
    standard error.
    """
    from provision import workflow

    exported = workflow.export(_settings(url, token, ca_bundle, insecure, timeout), stack=stack)
    if output_file is None:
        output.emit(exported.text)
    else:
        output_file.write_text(exported.text, encoding="utf-8")
        output.emit(f"Wrote {output_file}.", err=True)
    if exported.env_names:
        output.emit("Set these environment variables before planning the exported spec:", err=True)
        for name in exported.env_names:
            output.emit(f"  {name}", err=True)


@app.command()
@handle_errors
def schema() -> None:
    """Print the spec's JSON Schema, for editors (yaml-language-server) and CI."""
    from provision.render.schema import render_spec_schema

    output.emit(render_spec_schema().rstrip("\n"))


@app.command("test-mapping")
@handle_errors
def test_mapping(
    spec: SpecArgument,
    mapping: Annotated[
        str, typer.Option("--mapping", help="Scope mapping name, such as `Portainer token bridge`.")
    ],
    user: Annotated[str, typer.Option("--user", help="Username to evaluate the mapping for.")],
    url: UrlOption = None,
    token: TokenOption = None,
    ca_bundle: CaBundleOption = None,
    insecure: InsecureOption = False,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Have authentik run a scope mapping for a user and show the headers it adds, values masked.

    Exit 1 when the evaluation fails, returns no mapping, or a token bridge sends no header.
    """
    from provision import testmapping, workflow
    from provision.spec import load_spec

    spec_file = load_spec(spec)
    client, warnings = workflow.connect(_settings(url, token, ca_bundle, insecure, timeout))
    for warning in warnings:
        output.emit(f"Warning: {warning}", err=True)
    result = testmapping.run_mapping_test(client, spec_file, mapping=mapping, username=user)
    output.emit(testmapping.render_mapping_test(result))
    if result.problem is not None:
        raise typer.Exit(EXIT_ERROR)


render_app = typer.Typer(
    name="render",
    help="Write the spec's objects in other formats: an authentik blueprint, reverse-proxy configuration.",
    no_args_is_help=True,
)
app.add_typer(render_app)


@render_app.command("blueprint")
@handle_errors
def render_blueprint(
    spec: SpecArgument,
    replace_lists: Annotated[
        bool,
        typer.Option(
            "--replace-lists",
            help="Include group members and outpost providers; applying then replaces those whole lists.",
        ),
    ] = False,
) -> None:
    """Print the spec as an authentik blueprint. Secrets become !Env tags, never values."""
    from provision.render import blueprint
    from provision.spec import load_spec

    spec_file = load_spec(spec)
    rendered = blueprint.render_blueprint(spec_file, replace_lists=replace_lists)
    output.emit(rendered.to_yaml(spec.name).rstrip("\n"))


@render_app.command("proxy")
@handle_errors
def render_proxy(
    spec: SpecArgument,
    provider: Annotated[
        str, typer.Option("--provider", help="Name of a forward-auth proxy provider in the spec.")
    ],
    flavor: Annotated[
        Flavor, typer.Option("--flavor", help="nginx server block, npm Advanced tab, traefik or caddy.")
    ] = Flavor.nginx,
    outpost_url: Annotated[
        str, typer.Option("--outpost-url", help="The outpost as the proxy reaches it.")
    ] = DEFAULT_OUTPOST_URL,
    upstream: Annotated[
        str | None,
        typer.Option("--upstream", help="The application's address; default: the provider's internal_host."),
    ] = None,
    token_header: Annotated[
        str | None,
        typer.Option(
            "--token-header",
            help="Response header sent on as `Authorization: Bearer`; default: the one the "
            "provider's ak_proxy scope mapping adds.",
        ),
    ] = None,
) -> None:
    """Print reverse-proxy configuration for a forward-auth provider of the spec."""
    from provision.render import proxy
    from provision.spec import load_spec

    site = proxy.proxy_site(
        load_spec(spec), provider, outpost_url=outpost_url, upstream=upstream, token_header=token_header
    )
    output.emit(proxy.render_proxy(site, flavor).rstrip("\n"))


def main() -> None:
    app()
