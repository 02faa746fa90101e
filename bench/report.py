"""The benchmark's results: target checks, the machine, and the BENCHMARKS.md section."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import Measurement

RESULTS_MARKER = "<!-- Results below are appended by bench/run.py, newest last. -->"
NOT_MEASURED = "not measured"

HEADER = f"""# Benchmarks

Measured by `bench/run.py`; nothing on this page is an estimate unless it says so.

## Method

`.venv/bin/python bench/run.py [--sizes 10,100,1000] [--parallelism N]` generates a spec of N
objects per size (`bench/specs.py`): a quarter each scope mappings, proxy providers and
applications, the rest groups with attributes. Every application has its own provider (which
carries its own mapping) and is open to its own group. All names start with
`bench-<run>-n<size>-`, and the spec has a `stack:` of the same name. For each size it runs, in
this process, against the in-process fake (default) or a real authentik (when `AUTHENTIK_URL`
and `AUTHENTIK_TOKEN` are set):

1. `apply --auto-approve` (the first apply, which creates everything),
2. `plan` (no-op), `apply --auto-approve` (no-op), `drift`, each three times (the median run is
   reported),
3. `apply --auto-approve --prune` with an empty spec of the same stack (the cleanup).

Each step records the requests the tool sent (counted at its HTTP session), wall time, and
the tool's own CPU time: `time.process_time()` of this process, minus, against the fake, the
CPU time spent inside the fake serving requests. `--parallelism N` is passed to `apply` when
the installed provision has it; otherwise apply is sequential and the section says so.

Against a real authentik it also measures:

- **bare writes**: the first apply's writes sent again straight with `requests` (new primary
  keys swapped in, each dependency level in parallel at the tool's parallelism), then deleted
  the same way. This is what the server itself allows; the stack inventory write is left out.
- **blueprint**: `provision render blueprint` of the same spec (for these specs it leaves
  nothing out: no group members, no outposts) as a blueprint instance
  (`POST /api/v3/managed/blueprints/`, which validates the blueprint with a dry run), then
  `POST .../apply/`, then the same again unchanged. authentik 2025.12 queues the apply for its
  worker, so each apply is timed until the instance's `last_applied` changes (polled every
  50 ms).

At the end of every size the benchmark deletes everything whose name starts with the run's
prefix, whatever failed before. `provision --help` is timed as a subprocess, best of 7 runs.
Targets that need a real server are "{NOT_MEASURED}" against the fake.

{RESULTS_MARKER}
"""


@dataclass
class SizeResult:
    """Everything measured for one size."""

    size: int
    counts: dict[str, int]
    steps: list[Measurement] = field(default_factory=list)
    server_steps: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def step(self, name: str) -> Measurement | None:
        return next((m for m in [*self.steps, *self.server_steps] if m.step == name), None)


@dataclass(frozen=True)
class Check:
    target: str
    size: int | None
    measured: str
    verdict: str


def _check(target: str, size: int | None, measured: str, ok: bool | None) -> Check:
    verdict = NOT_MEASURED if ok is None else "PASS" if ok else "FAIL"
    return Check(target, size, measured if ok is not None else "-", verdict)


def evaluate(results: list[SizeResult], help_seconds: float, real: bool) -> list[Check]:
    checks = [_check("`provision --help` under 0.3 s", None, f"{help_seconds:.3f} s", help_seconds < 0.3)]
    for result in results:
        checks += _size_checks(result, real)
    return checks


def _size_checks(result: SizeResult, real: bool) -> list[Check]:
    size = result.size
    plan, noop, first = result.step("no-op plan"), result.step("no-op apply"), result.step("first apply")
    bare, reapply = result.step("bare writes"), result.step("blueprint re-apply (unchanged)")
    blueprint = result.step("blueprint apply")
    checks = []
    if plan is not None:
        checks.append(
            _check("no-op plan in at most 30 requests", size, f"{plan.requests}", plan.requests <= 30)
        )
    if noop is not None:
        checks.append(_check("no-op apply sends zero writes", size, f"{noop.writes}", noop.writes == 0))
    if first is None:
        return checks
    if real and bare is not None:
        ratio = first.wall / bare.wall
        measured = f"{first.wall:.2f} s vs {bare.wall:.2f} s ({ratio:.2f}x)"
        checks.append(_check("first apply within 10 % of bare writes", size, measured, ratio <= 1.10))
    else:
        checks.append(_check("first apply within 10 % of bare writes", size, "", None))
    if real and blueprint is not None:
        measured = f"{first.wall:.2f} s vs {blueprint.wall:.2f} s"
        checks.append(
            _check("first apply faster than blueprint apply", size, measured, first.wall < blueprint.wall)
        )
    else:
        checks.append(_check("first apply faster than blueprint apply", size, "", None))
    for step in (plan, noop):
        target = f"{step.step if step else 'no-op'} 30x faster than blueprint re-apply"
        if real and step is not None and reapply is not None:
            ratio = reapply.wall / step.wall
            measured = f"{step.wall:.2f} s vs {reapply.wall:.2f} s ({ratio:.1f}x)"
            checks.append(_check(target, size, measured, ratio >= 30))
        else:
            checks.append(_check(target, size, "", None))
    share = first.tool_cpu / first.wall
    measured = f"{first.tool_cpu:.2f} s of {first.wall:.2f} s ({share:.1%})"
    checks.append(
        _check("tool CPU under 10 % of apply wall time", size, measured, share < 0.10 if real else None)
    )
    return checks


def machine() -> dict[str, str]:
    cpu = "unknown"
    memory = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "CPU": cpu or platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "memory": memory,
        "OS": platform.platform(),
        "Python": platform.python_version(),
    }


def git_revision(root: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} with uncommitted changes" if dirty else head


def _row(m: Measurement, show_server: bool) -> str:
    server = f" {m.server_cpu:.2f} |" if show_server else ""
    share = f"{m.tool_cpu / m.wall:.0%}" if m.wall and m.cpu else "-"
    tool = f"{m.tool_cpu:.2f}" if m.cpu else "-"
    return f"| {m.step} | {m.wall:.2f} | {m.reads} | {m.writes} | {tool} | {share} |{server}"


def size_table(result: SizeResult, real: bool) -> str:
    counts = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in result.counts.items())
    lines = [f"**{result.size} objects** ({counts}; plus one access binding per application)", ""]
    server_head = "" if real else " Fake's CPU s |"
    lines.append(f"| Step | Wall s | Reads | Writes | Tool CPU s | Tool CPU / wall |{server_head}")
    lines.append("|---|---:|---:|---:|---:|---:|" + ("" if real else "---:|"))
    lines += [_row(m, not real) for m in result.steps]
    plan = result.step("no-op plan")
    if plan is not None:
        lines += ["", f"No-op plan, time by list read: {slowest_reads(plan)}."]
    if result.server_steps:
        lines += [
            "",
            "| Server-side comparison | Wall s | Requests (status polls included) |",
            "|---|---:|---:|",
        ]
        lines += [f"| {m.step} | {m.wall:.2f} | {m.reads + m.writes} |" for m in result.server_steps]
    if result.notes:
        lines += ["", *[f"- {note}" for note in result.notes]]
    return "\n".join(lines)


def slowest_reads(m: Measurement, count: int = 4) -> str:
    """The lists whose reads took longest in a run, with their total seconds and page count."""
    seconds: dict[str, float] = {}
    pages: dict[str, int] = {}
    for call in m.calls:
        seconds[call.path] = seconds.get(call.path, 0.0) + call.seconds
        pages[call.path] = pages.get(call.path, 0) + 1
    top = sorted(seconds, key=lambda path: -seconds[path])[:count]
    listed = ", ".join(f"`{path}` {seconds[path]:.2f} s ({pages[path]} req.)" for path in top)
    return f"{listed}; all {len(m.calls)} reads {sum(seconds.values()):.2f} s"


def checks_table(checks: list[Check]) -> str:
    lines = ["| Target | Size | Measured | Result |", "|---|---:|---|---|"]
    lines += [
        f"| {c.target} | {c.size if c.size is not None else '-'} | {c.measured} | {c.verdict} |"
        for c in checks
    ]
    return "\n".join(lines)


def section(
    *,
    server: str,
    command: str,
    parallelism_note: str,
    revision: str,
    help_seconds: float,
    results: list[SizeResult],
    checks: list[Check],
    real: bool,
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = ", ".join(f"{key} {value}" for key, value in machine().items())
    parts = [
        f"## {when}: {server}",
        "",
        f"- Command: `{command}`",
        f"- provision at git {revision}; {parallelism_note}",
        f"- Machine: {info}",
        f"- `provision --help`: {help_seconds:.3f} s (best of 7)",
        "",
        *[size_table(result, real) + "\n" for result in results],
        "Targets:",
        "",
        checks_table(checks),
    ]
    return "\n".join(parts) + "\n"


def write_benchmarks(path: Path, new_section: str) -> None:
    """Rewrite the method header and keep every earlier result section, then add the new one."""
    earlier = ""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if RESULTS_MARKER in text:
            earlier = text.split(RESULTS_MARKER, 1)[1].strip("\n")
    body = HEADER + ("\n" + earlier + "\n" if earlier else "") + "\n" + new_section
    path.write_text(body, encoding="utf-8")
