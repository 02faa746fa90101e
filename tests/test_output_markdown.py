"""`--output markdown` for plan and drift, for pull-request comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_harness import CANARY_PASSWORD, CANARY_USERNAME, ProvisionRunner
from tests.fake_authentik import FakeAuthentik
from tests.helpers import NPM_BLUEPRINT, write_spec


@pytest.fixture
def run(fake: FakeAuthentik, monkeypatch: pytest.MonkeyPatch) -> ProvisionRunner:
    return ProvisionRunner(fake, monkeypatch)


def test_plan_markdown_summary_and_table(run: ProvisionRunner) -> None:
    outcome = run("plan", "--offline", "--output", "markdown", NPM_BLUEPRINT)

    assert outcome.exit_code == 0, outcome.text
    lines = outcome.stdout.splitlines()
    assert lines[0] == "### provision plan: 4 to create, 1 to update, 0 to delete, 0 unchanged."
    assert '#### 🟢 `groups["Nginx Proxy Manager admins"]` will be created' in lines
    assert "| Field | Before | After |" in lines
    assert '| `scope_name` |  | `"ak_proxy"` |' in lines
    assert '| `providers` |  | + `"Nginx Proxy Manager"` |' in lines


def test_plan_markdown_expression_is_collapsed(run: ProvisionRunner) -> None:
    stdout = run("plan", "--offline", "-o", "markdown", NPM_BLUEPRINT).stdout

    start = stdout.index("<details>")
    block = stdout[start : stdout.index("</details>", start)]
    assert "<summary><code>expression</code>: 150 lines</summary>" in block
    assert "```diff\n+# Nginx Proxy Manager" in block


def test_plan_markdown_masks_canary_secrets(run: ProvisionRunner) -> None:
    outcome = run("plan", "--offline", "-o", "markdown", NPM_BLUEPRINT)

    assert "| `attributes.nginx_password` |  | `(sensitive)` |" in outcome.stdout
    assert CANARY_PASSWORD not in outcome.text
    assert CANARY_USERNAME not in outcome.text


def test_plan_markdown_escapes_table_pipes(run: ProvisionRunner, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
        version: 1
        groups:
          - name: pipes
            attributes: {rule: "a|b"}
        """,
    )
    stdout = run("plan", "--offline", "-o", "markdown", spec).stdout

    assert '| `attributes.rule` |  | `"a\\|b"` |' in stdout


def test_drift_markdown_exit_2(run: ProvisionRunner) -> None:
    outcome = run("drift", "-o", "markdown", NPM_BLUEPRINT)

    assert outcome.exit_code == 2, outcome.text
    assert outcome.stdout.startswith("### provision drift: 5 object(s) differ from the spec\n")
    assert '#### 🟢 `applications["nginx-proxy-manager"]` is missing from authentik' in outcome.stdout
    assert CANARY_PASSWORD not in outcome.text


def test_drift_markdown_clean(run: ProvisionRunner) -> None:
    assert run("apply", "--auto-approve", NPM_BLUEPRINT).exit_code == 0

    outcome = run("drift", "-o", "markdown", NPM_BLUEPRINT)

    assert outcome.exit_code == 0, outcome.text
    assert outcome.stdout.startswith("### provision drift: none\n")
