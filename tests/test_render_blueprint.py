"""`provision render blueprint`: the spec as an authentik blueprint, checked against authentik's schema."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.cli_harness import CANARY_PASSWORD, CANARY_USERNAME, ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.fake_authentik.schemas import schema_dir
from tests.helpers import NPM_BLUEPRINT, REPO, write_spec

# Primary keys: integers for providers and users, UUIDs for everything else.
INTEGER_PK_MODELS = {"authentik_providers_proxy.proxyprovider", "authentik_core.user"}
UUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


class _Tag:
    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


class _BlueprintLoader(yaml.SafeLoader):
    """Keeps authentik's tags as `_Tag` values; `_resolve` turns them into placeholders."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tag:
    if isinstance(node, yaml.SequenceNode):
        return _Tag("!" + suffix, loader.construct_sequence(node, deep=True))
    return _Tag("!" + suffix, loader.construct_scalar(node))  # type: ignore[arg-type]


_BlueprintLoader.add_multi_constructor("!", _construct)


def _resolve(value: Any, models: dict[str, str]) -> Any:
    """Replace each tag by a value of the type authentik would put there once the tag is resolved."""
    if isinstance(value, _Tag):
        if value.tag == "!KeyOf":
            model = models[value.value]
        elif value.tag == "!Find":
            model = value.value[0]
        else:
            assert value.tag == "!Env", value.tag
            return "from-the-environment"
        return 1 if model in INTEGER_PK_MODELS else UUID
    if isinstance(value, dict):
        return {key: _resolve(item, models) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, models) for item in value]
    return value


def _load(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The raw document (tags kept) and the resolved one."""
    raw = yaml.load(text, Loader=_BlueprintLoader)
    models = {entry["id"]: entry["model"] for entry in raw["entries"] if "id" in entry}
    return raw, _resolve(raw, models)


@pytest.fixture(scope="module")
def blueprint_schema() -> dict[str, Any]:
    path = schema_dir() / "blueprint-schema-2025.12.json"
    if not path.is_file():
        pytest.skip(f"authentik's blueprint schema not found at {path}")
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("spec", [NPM_BLUEPRINT, REPO / "tests" / "specs" / "every-field.yaml"])
@pytest.mark.parametrize("replace_lists", [False, True])
def test_blueprint_matches_authentik_schema(
    run: ProvisionRunner, blueprint_schema: dict[str, Any], spec: Path, replace_lists: bool
) -> None:
    outcome = run("render", "blueprint", spec, *(["--replace-lists"] if replace_lists else []))

    assert outcome.exit_code == 0, outcome.text
    _, document = _load(outcome.stdout)
    jsonschema.Draft7Validator(blueprint_schema).validate(document)


def test_blueprint_entries_and_references(run: ProvisionRunner) -> None:
    raw, _ = _load(run("render", "blueprint", NPM_BLUEPRINT).stdout)

    assert raw["version"] == 1
    assert [entry["model"] for entry in raw["entries"]] == [
        "authentik_core.group",
        "authentik_providers_oauth2.scopemapping",
        "authentik_providers_proxy.proxyprovider",
        "authentik_core.application",
        "authentik_policies.policybinding",
    ]
    provider = raw["entries"][2]["attrs"]
    assert (provider["authorization_flow"].tag, provider["authorization_flow"].value) == (
        "!Find",
        ["authentik_flows.flow", ["slug", "default-provider-authorization-implicit-consent"]],
    )
    assert [(ref.tag, ref.value) for ref in provider["property_mappings"]] == [
        ("!KeyOf", "scope-mapping:NginX Token")
    ]
    application = raw["entries"][3]["attrs"]
    assert application["meta_launch_url"] == "https://npm.example.com/authentik-sso"
    assert application["provider"].value == "provider:Nginx Proxy Manager"


def test_blueprint_secrets_become_env_tags(run: ProvisionRunner) -> None:
    outcome = run("render", "blueprint", NPM_BLUEPRINT)

    assert "nginx_username: !Env NPM_USERNAME" in outcome.stdout
    assert "nginx_password: !Env NPM_PASSWORD" in outcome.stdout
    assert CANARY_PASSWORD not in outcome.text
    assert CANARY_USERNAME not in outcome.text


def test_blueprint_file_secret_placeholder(run: ProvisionRunner, tmp_path: Path) -> None:
    (tmp_path / "api-key.txt").write_text("file-canary-9c2e71\n", encoding="utf-8")
    spec = write_spec(
        tmp_path,
        """
        version: 1
        groups:
          - name: with file secret
            attributes: {api_key: !file api-key.txt}
        """,
    )
    outcome = run("render", "blueprint", spec)

    assert outcome.exit_code == 0, outcome.text
    assert "api_key: !Env PROVISION_API_KEY_TXT" in outcome.stdout
    assert "#   PROVISION_API_KEY_TXT: the content of api-key.txt" in outcome.stdout
    assert "file-canary-9c2e71" not in outcome.text


def test_blueprint_lists_left_out_by_default(run: ProvisionRunner) -> None:
    stdout = run("render", "blueprint", NPM_BLUEPRINT).stdout
    raw, _ = _load(stdout)

    assert "users" not in raw["entries"][0]["attrs"]
    assert "# Note: outpost memberships are left out" in stdout


def test_blueprint_replace_lists_adds_outpost(run: ProvisionRunner) -> None:
    raw, _ = _load(run("render", "blueprint", "--replace-lists", NPM_BLUEPRINT).stdout)
    outpost = raw["entries"][-1]

    assert outpost["model"] == "authentik_outposts.outpost"
    assert outpost["identifiers"]["pk"].value == [
        "authentik_outposts.outpost",
        ["name", "authentik Embedded Outpost"],
    ]
    assert [ref.value for ref in outpost["attrs"]["providers"]] == ["provider:Nginx Proxy Manager"]


def test_blueprint_bad_spec_exit_1(run: ProvisionRunner, tmp_path: Path) -> None:
    outcome = run("render", "blueprint", write_spec(tmp_path, "version: 1\ngroups: [{}]\n"))

    assert outcome.exit_code == 1
    assert "required field 'name' is missing" in outcome.stderr
    assert "Traceback" not in outcome.text


def test_schema_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTHENTIK_API_SCHEMAS", os.fspath(tmp_path))

    assert schema_dir() == tmp_path
