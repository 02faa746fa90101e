"""Value comparison: what authentik or YAML change without meaning to is not a difference."""

from __future__ import annotations

import pytest

from provision.plan.compare import same_duration, same_expression, same_json, same_set


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        ("return {}\n", "return {}"),
        ("a = 1\r\nreturn a", "a = 1\nreturn a"),
        ("a = 1   \nreturn a\n\n", "a = 1\nreturn a"),
    ],
)
def test_expression_equal_despite_whitespace(desired: str, live: str) -> None:
    assert same_expression(desired, live)


def test_expression_indentation_matters() -> None:
    assert not same_expression("if x:\n    return 1", "if x:\nreturn 1")


@pytest.mark.parametrize(
    ("desired", "live"),
    [("hours=24", "days=1"), ("hours=1", "hours=1;"), ("minutes=90", "hours=1;minutes=30")],
)
def test_duration_equal_by_length(desired: str, live: str) -> None:
    assert same_duration(desired, live)


def test_duration_differs() -> None:
    assert not same_duration("hours=1", "hours=2")


def test_json_bool_is_not_int() -> None:
    assert not same_json(True, 1)
    assert same_json({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})


def test_set_ignores_order() -> None:
    assert same_set(["a", "b"], ["b", "a"])
    assert not same_set(["a"], ["a", "b"])
