"""Fuzzing the spec loader: any file gives a loaded spec or a `SpecError`, never another exception.

The runs are derandomized, so every CI run tries the same examples. For a longer session
with fresh random examples:

    PROVISION_FUZZ_EXAMPLES=5000 PROVISION_FUZZ_RANDOM=1 .venv/bin/pytest tests/test_spec_fuzz.py

Time and memory bounds here only catch pathological blow-ups (an alias bomb that is
expanded, a document that fills memory); speed targets belong in benchmarks.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from provision import cli
from provision.errors import SpecError
from provision.secrets import forget_all_secrets
from provision.spec import SpecFile, load_spec
from provision.spec import loader as loader_module

EXAMPLES = int(os.environ.get("PROVISION_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("PROVISION_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
CLI_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 5, 10))

# Generous guards against blow-ups, not speed targets.
MAX_SECONDS = 5.0
MAX_PEAK_BYTES = 64 * 1024 * 1024

SECTION_KEYS = {
    "groups": ["name", "attributes", "is_superuser", "parents", "members"],
    "scope_mappings": ["name", "scope_name", "expression", "expression_file", "description"],
    "proxy_providers": [
        "name",
        "mode",
        "external_host",
        "internal_host",
        "authorization_flow",
        "invalidation_flow",
        "property_mappings",
        "access_token_validity",
        "certificate",
        "basic_auth_enabled",
        "skip_path_regex",
    ],
    "applications": ["name", "slug", "provider", "launch_url", "access", "policy_engine_mode"],
    "outposts": ["name", "providers"],
}
ODD_CHARACTERS = [
    "\x00",  # NUL
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",  # NEL, a YAML line break
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2028",  # line separator
    "\ufeff",  # byte order mark
    "\ud800",  # a lone surrogate: not encodable, so the file is not UTF-8
    "\U0001f600",
    "\t",
    "\r",
]
YAML_TOKENS = [
    ": ",
    "- ",
    "? ",
    "&a ",
    "*a",
    "<<: *a",
    "!env NPM_PASSWORD ",
    "!file secret.txt ",
    "!vault ",
    "!!binary ",
    "!!python/object:os.system ",
    "!!set ",
    "|\n",
    ">-\n",
    "'",
    '"',
    "[",
    "]",
    "{",
    "}",
    ",",
    "#",
    "\n---\n",
    "\n...\n",
    "%YAML 1.1\n",
    "2024-13-45",
    "9" * 5000,
    ".nan",
    "=",
    "  ",
    *ODD_CHARACTERS,
]


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    """`!env` values register as secrets process-wide; keep them away from other tests."""
    forget_all_secrets()
    yield
    forget_all_secrets()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "secret.txt").write_text("fuzz-secret-value\n", encoding="utf-8")
    (directory / "token.py").write_text("return {}\n", encoding="utf-8")
    return directory


# -- strategies -------------------------------------------------------------------------

odd_text = st.text(st.characters(codec="utf-8") | st.sampled_from(ODD_CHARACTERS[:-4]), max_size=20)
scalars = st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | odd_text
trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(odd_text, children, max_size=4),
    max_leaves=25,
)
plausible = st.one_of(
    st.text(max_size=12),
    st.booleans(),
    st.lists(st.text(max_size=8), max_size=3),
    st.sampled_from(
        [
            "proxy",
            "forward_single",
            "https://app.example.com",
            "hours=12",
            "all",
            "ak_proxy",
            "default-provider-authorization-implicit-consent",
            "token.py",
        ]
    ),
)


@st.composite
def section_items(draw: st.DrawFn, section: str) -> dict[str, Any]:
    keys = [*SECTION_KEYS[section], "nmae", "extra"]
    return draw(st.dictionaries(st.sampled_from(keys), plausible | trees, max_size=len(keys)))


spec_trees = st.fixed_dictionaries(
    {"version": st.just(1) | trees},
    optional={section: st.lists(section_items(section), max_size=3) | trees for section in SECTION_KEYS},
)


def render(data: Any, flow: bool, unicode: bool) -> str:
    return yaml.safe_dump(data, default_flow_style=flow, allow_unicode=unicode, sort_keys=False)


rendered = st.builds(render, spec_trees | trees, st.booleans(), st.booleans())


@st.composite
def mutated(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    """A YAML text with a few edits: tokens inserted, slices deleted, lines repeated, an end cut off."""
    text = draw(texts)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "repeat", "cut"]))
        if edit == "insert":
            text = text[:at] + draw(st.sampled_from(YAML_TOKENS)) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 10)) :]
        elif edit == "repeat":
            lines = text.splitlines(keepends=True) or [""]
            line = at % len(lines)
            text = "".join([*lines[: line + 1], lines[line], *lines[line + 1 :]])
        else:
            text = text[:at]
    return text


raw_text = st.lists(
    st.sampled_from([*YAML_TOKENS, "version: 1\n", "groups:\n", "  - name: a\n", "\n", "a", " "])
    | st.characters(codec="utf-8"),
    max_size=30,
).map("".join)


# -- checking ---------------------------------------------------------------------------


def write(directory: Path, content: str | bytes) -> Path:
    path = directory / "spec.yaml"
    data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    return path


def load(path: Path) -> SpecFile | SpecError:
    """The spec or the SpecError; any other exception fails the test that calls this."""
    try:
        return load_spec(path)
    except SpecError as error:
        return error


def check(directory: Path, content: str | bytes) -> None:
    path = write(directory, content)
    outcome = load(path)
    if isinstance(outcome, SpecFile):
        return
    assert outcome.problems, "a SpecError lists at least one problem"
    assert all(problem.file == str(path) for problem in outcome.problems)
    # YAML also breaks lines at NEL and U+2028; splitlines() counts those and a few more.
    line_count = len(path.read_bytes().decode("utf-8", "replace").splitlines()) + 1
    assert all(1 <= (problem.line or 1) <= line_count for problem in outcome.problems)
    assert str(outcome)


def measured(action: Callable[[], Any]) -> tuple[Any, float, int]:
    """Run `action`; return its result, the seconds it took and its peak traced memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = action()
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, elapsed, peak


# -- fuzzing ----------------------------------------------------------------------------


@FUZZ
@given(text=rendered)
def test_rendered_trees(workdir: Path, text: str) -> None:
    check(workdir, text)


@FUZZ
@given(text=mutated(rendered))
def test_mutated_yaml(workdir: Path, text: str) -> None:
    check(workdir, text)


@FUZZ
@given(text=raw_text)
def test_raw_text(workdir: Path, text: str) -> None:
    check(workdir, text)


@FUZZ
@given(data=st.binary(max_size=200))
def test_raw_bytes(workdir: Path, data: bytes) -> None:
    check(workdir, data)


@FUZZ
@given(prefix=st.binary(max_size=8), text=mutated(rendered))
def test_bytes_before_yaml(workdir: Path, prefix: bytes, text: str) -> None:
    check(workdir, prefix + text.encode("utf-8", "surrogatepass"))


@CLI_FUZZ
@given(text=mutated(rendered) | raw_text)
def test_cli_validate(workdir: Path, text: str) -> None:
    path = write(workdir, text)
    expected_error = isinstance(load(path), SpecError)
    result = CliRunner().invoke(cli.app, ["validate", str(path)])
    output = result.stdout + result.stderr
    assert result.exit_code in (0, 1), output
    assert "Traceback" not in output
    assert not expected_error or result.exit_code == 1
    assert result.exit_code == 0 or output.startswith("Error:")


# -- alias bombs and large documents ------------------------------------------------------


def bomb(first: str, repeat: Callable[[int], str], levels: int = 9) -> str:
    lines = [f"  a0: &a0 {first}"] + [f"  a{level}: &a{level} {repeat(level)}" for level in range(1, levels)]
    return "version: 1\nbomb:\n" + "\n".join(lines) + "\n"


BOMBS = {
    "list": bomb(
        "[lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]", lambda n: f"[{', '.join([f'*a{n - 1}'] * 10)}]"
    ),
    "mapping": bomb(
        "{" + ", ".join(f"k{i}: lol" for i in range(10)) + "}",
        lambda n: "{" + ", ".join(f"k{i}: *a{n - 1}" for i in range(10)) + "}",
    ),
    "merge": bomb(
        "{" + ", ".join(f"k{i}: lol" for i in range(10)) + "}",
        lambda n: "{<<: [" + ", ".join([f"*a{n - 1}"] * 10) + "], " + f"k{n}: *a{n - 1}" + "}",
    ),
    "key": bomb(
        "[lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]", lambda n: f"[{', '.join([f'*a{n - 1}'] * 10)}]"
    )
    + "? *a8\n: x\n",
    "attributes": "version: 1\nlol: &l0 [lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 8)}]\n" for n in range(1, 10))
    + "groups:\n  - name: a\n    attributes: {x: *l9}\n",
    "self": "version: 1\ngroups: &a [*a, *a]\n",
}


@pytest.mark.parametrize("text", BOMBS.values(), ids=BOMBS.keys())
def test_alias_bomb_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    outcome, elapsed, peak = measured(lambda: load(path))
    assert isinstance(outcome, SpecError)
    assert elapsed < MAX_SECONDS
    assert peak < MAX_PEAK_BYTES


def test_alias_bomb_names_anchor_line(tmp_path: Path) -> None:
    [problem] = load_error(write(tmp_path, BOMBS["list"])).problems
    assert (problem.line, problem.message) == (8, "the spec expands to more than 200000 values")


def test_flat_document_stops_while_composing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A smaller limit keeps the test fast; the composer checks it, so memory stays bounded.
    monkeypatch.setattr(loader_module, "MAX_VALUES", 5_000)
    path = write(tmp_path, "version: 1\nx: [" + ", ".join(["x"] * 50_000) + "]\n")
    outcome, elapsed, peak = measured(lambda: load(path))
    assert isinstance(outcome, SpecError)
    assert "more than 5000 values" in str(outcome)
    assert elapsed < MAX_SECONDS
    assert peak < MAX_PEAK_BYTES


def test_oversized_file_refused_unread(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\n# " + "x" * (loader_module.MAX_FILE_BYTES + 1) + "\n")
    outcome, elapsed, _ = measured(lambda: load(path))
    assert "larger than 5 MiB" in str(outcome)
    assert elapsed < MAX_SECONDS


def test_long_line_loads(tmp_path: Path) -> None:
    value = "x" * 200_000
    path = write(tmp_path, f"version: 1\ngroups:\n  - name: a\n    attributes: {{long: {value}}}\n")
    outcome, elapsed, _ = measured(lambda: load(path))
    assert isinstance(outcome, SpecFile)
    assert outcome.spec.groups[0].attributes == {"long": value}
    assert elapsed < MAX_SECONDS


NESTED = {
    "flow list": "[" * 100_000,
    "flow mapping": "{a: " * 100_000,
    "block list": "".join(f"\n{'  ' * level}- " for level in range(1, 300)),
}


@pytest.mark.parametrize("nested", NESTED.values(), ids=NESTED.keys())
def test_deep_nesting_refused(tmp_path: Path, nested: str) -> None:
    path = write(tmp_path, f"version: 1\nx: {nested}x\n")
    started = time.perf_counter()
    outcome = load(path)
    assert "nested more than 64 levels deep" in str(outcome)
    assert time.perf_counter() - started < MAX_SECONDS


# -- cases the fuzzing found, and edge cases it should keep covering ----------------------

MINIMAL = "version: 1\ngroups:\n  - name: a\n"
CASES: dict[str, tuple[str | bytes, str | None]] = {
    # name: (file content, None if it loads, or a substring of the error).
    # PyYAML follows YAML 1.1: U+2028 breaks a plain scalar across lines.
    "empty": ("", "spec file is empty"),
    "comment only": ("# nothing\n", "spec file is empty"),
    "document marker only": ("---\n", "top level of a spec must be a mapping"),
    "two documents": (MINIMAL + "---\n" + MINIMAL, "but found another document"),
    "two empty documents": ("---\n---\n", "but found another document"),
    "end marker then text": (MINIMAL + "...\nversion: 1\n", "invalid YAML"),
    "directive": ("%YAML 1.1\n---\n" + MINIMAL, None),
    "bom": ("\ufeff" + MINIMAL, None),
    "utf-16": (MINIMAL.encode("utf-16"), "not valid UTF-8"),
    "invalid utf-8": (b"version: 1\ngroups:\n  - name: \xff\xfe\n", "not valid UTF-8 (byte 29)"),
    "encoded surrogate": ("version: 1\ngroups:\n  - name: \ud800\n", "not valid UTF-8"),
    "nul byte": ("version: 1\ngroups:\n  - name: a\x00b\n", "U+0000 is not allowed"),
    "bell": ("version: 1\n\x07", "U+0007 is not allowed"),
    "escape past unicode": ('version: 1\ngroups:\n  - name: "\\U99999999"\n', "not a Unicode character"),
    "huge escape": ('version: 1\ngroups:\n  - name: "\\U' + "9" * 40 + '"\n', "not a Unicode character"),
    "escaped nul": ('version: 1\ngroups:\n  - name: "a\\0b"\n', None),
    "rtl override": ("version: 1\ngroups:\n  - name: \u202eadmins\u200f\n", None),
    "line separator": ("version: 1\ngroups:\n  - name: a\u2028b\n", "invalid YAML"),
    "quoted line separator": ('version: 1\ngroups:\n  - name: "a\u2028b"\n', None),
    "crlf": (MINIMAL.replace("\n", "\r\n"), None),
    "lone cr": (MINIMAL.replace("\n", "\r"), None),
    "tab indent": ("version: 1\ngroups:\n\t- name: a\n", "invalid YAML"),
    "huge int": ("version: " + "9" * 5000 + "\n", "Exceeds the limit"),
    "bad date": (
        "version: 1\ngroups:\n  - name: a\n    attributes: {d: 2024-13-45}\n",
        "invalid value 2024-13-45",
    ),
    "nan": ("version: 1\ngroups:\n  - name: a\n    attributes: {x: .nan}\n", "is not valid JSON"),
    "binary": ("version: 1\ngroups:\n  - name: !!binary aGk=\n", "expected a string, got bytes"),
    "python object": ("version: !!python/object:os.system {}\n", "unknown tag !!python/object:os.system"),
    "python name": ("version: !!python/name:os.system ''\n", "could not determine a constructor"),
    "set": ("version: 1\ngroups: !!set {a, b}\n", "unknown tag !!set"),
    "local tag on list": ("version: 1\ngroups: !vault [{name: a}]\n", "unknown tag !vault"),
    "tag on key": ("version: 1\n!vault groups: []\n", "cannot have the tag !vault"),
    "list key": ("version: 1\n? [a]\n: b\n", "a list cannot be a mapping key"),
    "int key": ("version: 1\n1: b\n", "mapping key 1 is not a string"),
    "equals key": ("version: 1\ngroups:\n  - name: a\n    attributes: {=: 1}\n", None),
    "undefined alias": ("version: 1\ngroups: *nope\n", "found undefined alias"),
    "merge override": (
        "version: 1\ngroups:\n  - &g {name: a, is_superuser: false}\n  - <<: *g\n    name: b\n",
        None,
    ),
    "merge list": (
        "version: 1\ngroups:\n  - &g {name: a, is_superuser: false}\n  - <<: [{name: b}, *g]\n",
        None,
    ),
    "merge scalar": (
        "version: 1\ngroups:\n  - <<: x\n    name: a\n",
        "needs a mapping or a list of mappings",
    ),
    "merge itself": ("version: 1\ngroups:\n  - &a {<<: *a, name: x}\n", "nested more than 64"),
    "env without name": ("version: 1\ngroups:\n  - name: !env\n", "!env needs a name"),
    "env on list": ("version: 1\ngroups:\n  - name: !env [a]\n", "!env needs a name"),
    "file with nul": (
        'version: 1\ngroups:\n  - name: a\n    attributes: {p: !file "a\\0b"}\n',
        "embedded null byte",
    ),
    "file of unknown user": (
        "version: 1\ngroups:\n  - name: a\n    attributes: {p: !file ~nosuchuser-fuzz/x}\n",
        "home directory",
    ),
    "file is a directory": (
        "version: 1\ngroups:\n  - name: a\n    attributes: {p: !file .}\n",
        "cannot read file",
    ),
    "endless file": (
        "version: 1\ngroups:\n  - name: a\n    attributes: {p: !file /dev/zero}\n",
        "larger than 5 MiB",
    ),
    "expression file with nul": (
        'version: 1\nscope_mappings:\n  - name: m\n    scope_name: s\n    expression_file: "a\\0b"\n',
        "embedded null byte",
    ),
}


def load_error(path: Path) -> SpecError:
    outcome = load(path)
    assert isinstance(outcome, SpecError), "expected a SpecError"
    return outcome


@pytest.mark.parametrize(("content", "expected"), CASES.values(), ids=CASES.keys())
def test_edge_case(tmp_path: Path, content: str | bytes, expected: str | None) -> None:
    outcome = load(write(tmp_path, content))
    if expected is None:
        assert isinstance(outcome, SpecFile), outcome
    else:
        assert expected in str(outcome)


def test_merge_key_override_wins(tmp_path: Path) -> None:
    text = CASES["merge override"][0]
    outcome = load(write(tmp_path, text))
    assert isinstance(outcome, SpecFile)
    assert [(group.name, group.is_superuser) for group in outcome.spec.groups] == [("a", False), ("b", False)]


def test_merge_list_first_wins(tmp_path: Path) -> None:
    outcome = load(write(tmp_path, CASES["merge list"][0]))
    assert isinstance(outcome, SpecFile)
    assert outcome.spec.groups[1].name == "b"


def test_nul_byte_names_line(tmp_path: Path) -> None:
    [problem] = load_error(write(tmp_path, CASES["nul byte"][0])).problems
    assert problem.line == 3


@pytest.mark.parametrize("text", ["version: true\n", "version: 1.0\n"])
def test_version_must_be_integer_one(tmp_path: Path, text: str) -> None:
    assert isinstance(load(write(tmp_path, text)), SpecError)
