"""Benchmark provision at 10, 100 and 1000 objects and record the results in BENCHMARKS.md.

    .venv/bin/python bench/run.py [--sizes 10,100,1000] [--parallelism N]

Runs against the in-process fake, or against a real authentik when AUTHENTIK_URL and
AUTHENTIK_TOKEN are set. BENCHMARKS.md explains the method; bench/report.py writes it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for `bench` and `tests.fake_authentik` when run as a script

from bench import live, report  # noqa: E402
from bench.measure import Measurement, ToolRunner, apply_has_parallelism  # noqa: E402
from bench.servers import FakeServer, LiveServer  # noqa: E402
from bench.specs import empty_spec_text, spec_text, split  # noqa: E402

MAX_PARALLELISM = 8  # keeps the load on a shared server sane
HELP_RUNS = 7
NOOP_RUNS = 3  # steps that change nothing run this often; the median run is reported
# Against a real authentik, these steps start once its worker is idle, waiting at most SETTLE_LIMIT s.
SETTLED_STEPS = ("first apply", "no-op plan")
SETTLE_LIMIT = 900.0


def main() -> None:
    args = _arguments()
    server = _server(args)
    has_parallelism = apply_has_parallelism()
    parallelism = args.parallelism if has_parallelism else 1
    note = (
        f"`apply --parallelism {parallelism}`"
        if has_parallelism
        else f"this provision's apply has no `--parallelism`, so apply ran sequentially "
        f"(bare writes at parallelism 1 to match, and at {args.parallelism} for reference)"
    )
    print(f"Benchmarking against {server.describe()}; {note}.", flush=True)

    revision = report.git_revision(ROOT)  # read before the run: the code in use is what was there then
    help_seconds = measure_help()
    print(f"provision --help: {help_seconds:.3f} s (best of {HELP_RUNS})", flush=True)
    run_id = uuid.uuid4().hex[:6]
    results = []
    for size in args.sizes:
        result = bench_size(server, size, f"bench-{run_id}-n{size}-", parallelism, args.parallelism, args)
        print(report.size_table(result, server.real) + "\n", flush=True)
        results.append(result)

    checks = report.evaluate(results, help_seconds, server.real)
    for check in checks:
        size = f" ({check.size} objects)" if check.size is not None else ""
        print(f"{check.verdict:>12}  {check.target}{size}: {check.measured}")
    if args.output is not None:
        text = report.section(
            server=server.describe(),
            command="python bench/run.py " + shlex.join(sys.argv[1:]),
            parallelism_note=note,
            revision=revision,
            help_seconds=help_seconds,
            results=results,
            checks=checks,
            real=server.real,
        )
        report.write_benchmarks(args.output, text)
        print(f"Recorded in {args.output}.")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[10, 100, 1000],
        help="comma-separated object counts (default 10,100,1000)",
    )
    parser.add_argument(
        "--parallelism", type=int, default=4, help=f"concurrent writes, 1 to {MAX_PARALLELISM} (default 4)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "BENCHMARKS.md",
        help="file to record the results in (default BENCHMARKS.md at the repository root)",
    )
    parser.add_argument("--no-record", dest="output", action="store_const", const=None, help="only print")
    parser.add_argument(
        "--compare-up-to",
        type=int,
        default=None,
        metavar="SIZE",
        help="against a real authentik, run the bare-writes and blueprint comparison only up to this size",
    )
    parser.add_argument(
        "--no-settle",
        dest="settle",
        action="store_false",
        help="against a real authentik, start compared steps without waiting for its worker to become idle",
    )
    parser.add_argument("--release", default="2025.12", help="the fake's authentik release (default 2025.12)")
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow an AUTHENTIK_URL that is not a loopback address"
    )
    args = parser.parse_args()
    if not 1 <= args.parallelism <= MAX_PARALLELISM:
        parser.error(f"--parallelism must be between 1 and {MAX_PARALLELISM}")
    if any(size < 4 for size in args.sizes):
        parser.error("every size must be at least 4 (one object of each kind)")
    return args


def _server(args: argparse.Namespace) -> FakeServer | LiveServer:
    url, token = os.environ.get("AUTHENTIK_URL"), os.environ.get("AUTHENTIK_TOKEN")
    if url and token:
        return LiveServer(url, token, allow_remote=args.allow_remote)
    return FakeServer(args.release)


def measure_help() -> float:
    """Best wall time of `provision --help` in a new process."""
    script = Path(sys.executable).parent / "provision"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "provision"]
    best = float("inf")
    for _ in range(HELP_RUNS):
        started = time.perf_counter()
        subprocess.run([*command, "--help"], check=True, capture_output=True)
        best = min(best, time.perf_counter() - started)
    return best


def bench_size(
    server: FakeServer | LiveServer,
    size: int,
    prefix: str,
    parallelism: int,
    requested: int,
    args: argparse.Namespace,
) -> report.SizeResult:
    """Run every step for one size; whatever happens, delete what the run created."""
    stack = prefix.rstrip("-")
    result = report.SizeResult(size, split(size))
    runner = ToolRunner(server.url, server.token, server.session, server.server_cpu)
    parallel = ["--parallelism", str(parallelism)] if apply_has_parallelism() else []
    print(f"-- {size} objects (prefix {prefix})", flush=True)
    load_before = os.getloadavg()[0]
    waits: dict[str, float] = {}

    def settle(step: str) -> None:
        if isinstance(server, LiveServer) and args.settle:
            waited = server.wait_for_idle_worker(SETTLE_LIMIT)
            if waited is not None:
                waits[step] = waited

    with tempfile.TemporaryDirectory(prefix="provision-bench-") as directory:
        spec, empty = Path(directory) / f"{stack}.yaml", Path(directory) / "empty.yaml"
        spec.write_text(spec_text(result.counts, prefix, stack), encoding="utf-8")
        empty.write_text(empty_spec_text(stack), encoding="utf-8")
        pruned = False
        try:
            steps = [
                ("first apply", ["apply", "--auto-approve", *parallel, spec], 1),
                ("no-op plan", ["plan", spec], NOOP_RUNS),
                ("no-op apply", ["apply", "--auto-approve", *parallel, spec], NOOP_RUNS),
                ("drift", ["drift", spec], NOOP_RUNS),
                ("prune (empty spec)", ["apply", "--auto-approve", "--prune", *parallel, empty], 1),
            ]
            for step, command, runs in steps:
                if step in SETTLED_STEPS:
                    settle(step)
                measurement = _median(runner, step, [str(part) for part in command], runs)
                _progress(measurement)
                result.steps.append(measurement)
            pruned = True
            if args.compare_up_to is not None and size > args.compare_up_to:
                result.notes.append(
                    f"Bare writes and blueprint not run at this size (--compare-up-to {args.compare_up_to})."
                )
            elif isinstance(server, LiveServer):
                _server_side(server, runner, result, spec, prefix, parallelism, requested, settle)
        finally:
            if not pruned:
                _cleanup_prune(runner, empty)
            if isinstance(server, LiveServer):
                deleted = live.sweep(server, prefix, {f"provision: {stack}"}, parallelism)
                print(f"   cleanup: deleted {deleted} leftover object(s) named {prefix}*", flush=True)
    if waits:
        listed = ", ".join(f"{step} {seconds:.0f} s" for step, seconds in waits.items())
        limited = " (the limit: the worker was still busy)" if SETTLE_LIMIT in waits.values() else ""
        result.notes.append(f"Waited for authentik's worker to become idle before: {listed}{limited}.")
    result.notes.append(
        f"Load average (1 min) {load_before:.2f} before and {os.getloadavg()[0]:.2f} after this size; "
        "other processes share this machine."
    )
    return result


def _server_side(
    server: LiveServer,
    runner: ToolRunner,
    result: report.SizeResult,
    spec: Path,
    prefix: str,
    parallelism: int,
    requested: int,
    settle: Callable[[str], None],
) -> None:
    """Bare writes at the tool's parallelism (and at the requested one, if different), then the blueprint."""
    first = result.steps[0]
    writes = [call for call in first.calls if call.is_write]
    try:
        for level in dict.fromkeys([parallelism, requested]):
            settle("bare writes")
            bare, created = live.replay_writes(server, writes, level)
            deleted = live.delete_paths(server, created, level)
            suffix = "" if level == parallelism else f" at parallelism {level}"
            for measurement in (bare, deleted):
                renamed = Measurement(
                    measurement.step + suffix, measurement.wall, 0.0, 0.0, 0, measurement.writes
                )
                _progress(renamed)
                result.server_steps.append(renamed)
    except (requests.RequestException, RuntimeError) as error:
        _failed(result, "bare writes", error)

    _, content = runner.run("render blueprint", ["render", "blueprint", str(spec)])
    if "!Find [authentik_core.user" in content or "authentik_outposts.outpost" in content:
        result.notes.append("the rendered blueprint names users or outposts the spec lists")
    try:
        live.blueprint_apply(server, content, f"{prefix}blueprint", result.server_steps, settle)
    except (requests.RequestException, RuntimeError) as error:
        _failed(result, "blueprint", error)
    for measurement in result.server_steps:
        if measurement.step.startswith("blueprint"):
            _progress(measurement)


def _failed(result: report.SizeResult, part: str, error: Exception) -> None:
    """Record that one comparison failed, so the sizes measured so far are still written."""
    print(f"   {part} failed: {error}", file=sys.stderr, flush=True)
    result.notes.append(f"The {part} comparison failed: {error}")


def _median(runner: ToolRunner, step: str, command: list[str], runs: int) -> Measurement:
    measurements = sorted((runner.run(step, command)[0] for _ in range(runs)), key=lambda m: m.wall)
    return measurements[len(measurements) // 2]


def _cleanup_prune(runner: ToolRunner, empty: Path) -> None:
    try:
        runner.run("cleanup prune", ["apply", "--auto-approve", "--prune", str(empty)])
    except Exception as error:  # the sweep that follows deletes by name
        print(f"   cleanup prune failed: {error}", file=sys.stderr, flush=True)


def _progress(m: Measurement) -> None:
    print(f"   {m.step:<34} {m.wall:8.2f} s  {m.reads:5d} reads  {m.writes:5d} writes", flush=True)


if __name__ == "__main__":
    main()
