"""`provision schema`: the spec's JSON Schema, shipped in schema/ and kept current."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from provision import cli
from provision.render.schema import SCHEMA_PATH, render_spec_schema
from tests.helpers import NPM_BLUEPRINT, REPO

MODELINE = "# yaml-language-server: $schema=../schema/provision-spec.schema.json"


class _TagsAsText(yaml.SafeLoader):
    """Reads `!env X` and `!file X` as the string an editor sees."""


_TagsAsText.add_constructor("!env", lambda loader, node: loader.construct_scalar(node))
_TagsAsText.add_constructor("!file", lambda loader, node: loader.construct_scalar(node))


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_TagsAsText)


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads((REPO / SCHEMA_PATH).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_shipped_schema_is_current() -> None:
    shipped = (REPO / SCHEMA_PATH).read_text(encoding="utf-8")

    assert shipped == render_spec_schema(), (
        "regenerate it: provision schema > schema/provision-spec.schema.json"
    )


def test_schema_command_prints_it() -> None:
    result = CliRunner().invoke(cli.app, ["schema"])

    assert result.exit_code == 0
    assert result.stdout == render_spec_schema()


@pytest.mark.parametrize(
    "spec",
    [
        NPM_BLUEPRINT,
        REPO / "blueprints" / "nginx-proxy-manager-bridge.yaml",
        REPO / "blueprints" / "portainer.yaml",
        REPO / "tests" / "specs" / "every-field.yaml",
    ],
)
def test_schema_accepts_specs(spec: Any) -> None:
    _validator().validate(_load(spec.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\ngroups: [{name: a, colour: red}]", "Additional properties"),
        ("version: 2", "1 was expected"),
        ("version: 1\napplications: [{name: a, slug: 'no spaces'}]", "does not match"),
        (
            "version: 1\nproxy_providers: [{name: p, external_host: !env HOST, authorization_flow: f, "
            "access_token_validity: '12h'}]",
            "is not valid under any",
        ),
    ],
)
def test_schema_rejects(text: str, message: str) -> None:
    errors = [error.message for error in _validator().iter_errors(_load(text))]

    assert any(message in error for error in errors), errors


def test_readme_shows_modeline() -> None:
    assert MODELINE in (REPO / "README.md").read_text(encoding="utf-8")
