"""Spec loading: every mistake is reported with file, line, YAML path and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from provision.errors import SpecError
from provision.secrets import Secret
from provision.spec import load_spec
from tests.helpers import NPM_BLUEPRINT, write_spec

MINIMAL_PROVIDER = """\
version: 1
proxy_providers:
  - name: p
    mode: forward_single
    external_host: https://app.example.com
    authorization_flow: default-provider-authorization-implicit-consent
"""


def problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    return [str(problem) for problem in caught.value.problems]


def test_blueprint_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPM_USERNAME", "admin@example.com")
    monkeypatch.setenv("NPM_PASSWORD", "canary-password")
    spec_file = load_spec(NPM_BLUEPRINT)
    assert [group.name for group in spec_file.spec.groups] == ["Nginx Proxy Manager admins"]
    assert (
        "ak_proxy" in spec_file.expressions["NginX Token"]
        or spec_file.spec.scope_mappings[0].scope_name == "ak_proxy"
    )
    assert isinstance(spec_file.spec.groups[0].attributes["nginx_password"], Secret)


def test_unknown_key_names_line_and_suggestion(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "version: 1\ngroups:\n  - name: a\n    atributes: {}\n")
    [message] = problems(spec)
    assert message.startswith(f"{spec}:4:5: groups[0].atributes: unknown key 'atributes'")
    assert "Did you mean 'attributes'?" in message


def test_missing_required_field(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "version: 1\nscope_mappings:\n  - name: m\n    expression: return {}\n")
    [message] = problems(spec)
    assert "scope_mappings[0].scope_name: required field 'scope_name' is missing" in message
    assert f"{spec}:3:" in message


def test_wrong_type_names_expected_type(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "version: 1\ngroups:\n  - name: a\n    is_superuser: 'yes'\n")
    [message] = problems(spec)
    assert "groups[0].is_superuser: expected true or false, got a string" in message


def test_bad_enum_lists_choices(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MINIMAL_PROVIDER.replace("forward_single", "forward"))
    [message] = problems(spec)
    assert "proxy_providers[0].mode: invalid value 'forward'" in message
    assert "forward_single" in message


def test_duplicate_yaml_key_rejected(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "version: 1\ngroups:\n  - name: a\n    name: b\n")
    [message] = problems(spec)
    assert f"{spec}:4:5: groups[0].name: duplicate key 'name'" in message


def test_duplicate_object_names_rejected(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "version: 1\ngroups:\n  - name: a\n  - name: a\n")
    [message] = problems(spec)
    assert "groups[1].name: duplicate name 'a'" in message
    assert "line 3" in message


def test_missing_env_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROVISION_TEST_UNSET", raising=False)
    spec = write_spec(
        tmp_path,
        "version: 1\ngroups:\n  - name: a\n    attributes:\n      p: !env PROVISION_TEST_UNSET\n",
    )
    [message] = problems(spec)
    assert "environment variable PROVISION_TEST_UNSET is not set" in message
    assert f"{spec}:5:10" in message


def test_file_secret_strips_one_newline(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s3cret-value\n")
    spec = write_spec(
        tmp_path, "version: 1\ngroups:\n  - name: a\n    attributes:\n      p: !file secret.txt\n"
    )
    value = load_spec(spec).spec.groups[0].attributes["p"]
    assert isinstance(value, Secret)
    assert value.reveal() == "s3cret-value"
    assert "s3cret" not in repr(value) + str(value) + f"{value}"


def test_missing_secret_file(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, "version: 1\ngroups:\n  - name: a\n    attributes:\n      p: !file nope.txt\n"
    )
    [message] = problems(spec)
    assert "file nope.txt not found" in message


def test_unknown_tag_rejected(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "version: 1\ngroups:\n  - name: !vault x\n")
    [message] = problems(spec)
    assert "unknown tag !vault" in message


def test_invalid_yaml_has_line(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "version: 1\ngroups:\n  - name: [a\n")
    [message] = problems(spec)
    assert message.startswith(f"{spec}:")
    assert "invalid YAML" in message


def test_alias_bomb_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    spec = write_spec(tmp_path, "version: 1\nbomb:\n  " + "\n  ".join(lines) + "\n")
    [message] = problems(spec)
    assert "expands to more than" in message


def test_deep_nesting_refused(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        "version: 1\ngroups:\n  - name: a\n    attributes:\n      k: " + "[" * 200 + "]" * 200 + "\n",
    )
    [message] = problems(spec)
    assert "nested more than" in message


def test_date_attribute_needs_quotes(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, "version: 1\ngroups:\n  - name: a\n    attributes:\n      since: 2024-01-01\n"
    )
    [message] = problems(spec)
    assert "quote it" in message


def test_parent_cycle_rejected(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        "version: 1\ngroups:\n  - name: a\n    parents: [b]\n  - name: b\n    parents: [a]\n",
    )
    messages = problems(spec)
    assert any("is its own ancestor" in message for message in messages)


def test_proxy_mode_needs_internal_host(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, MINIMAL_PROVIDER.replace("forward_single", "proxy"))
    [message] = problems(spec)
    assert "internal_host is required in mode `proxy`" in message


def test_expression_file_missing(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        "version: 1\nscope_mappings:\n  - name: m\n    scope_name: ak_proxy\n    expression_file: gone.py\n",
    )
    [message] = problems(spec)
    assert "scope_mappings[0].expression_file: expression file gone.py not found" in message


def test_expression_and_file_exclusive(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        "version: 1\nscope_mappings:\n  - name: m\n    scope_name: s\n    expression: x\n    expression_file: y.py\n",
    )
    [message] = problems(spec)
    assert "exactly one of expression or expression_file" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "spec file is empty"),
        ("- a\n- b\n", "top level of a spec must be a mapping"),
        ("version: 2\n", "version: invalid value 2"),
        ("groups: []\n", "required field 'version' is missing"),
    ],
)
def test_document_shape_errors(tmp_path: Path, text: str, expected: str) -> None:
    spec = write_spec(tmp_path, text) if text else tmp_path / "empty.yaml"
    if not text:
        spec.write_text("")
    messages = problems(spec)
    assert any(expected in message for message in messages), messages


def test_missing_spec_file(tmp_path: Path) -> None:
    [message] = problems(tmp_path / "absent.yaml")
    assert "spec file not found" in message
