"""Secret values: masked when rendered, scrubbed from free text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provision.secrets import Secret, forget_all_secrets, is_password_like, redact, register_secret


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    forget_all_secrets()
    yield
    forget_all_secrets()


def test_secret_never_renders() -> None:
    secret = Secret("hunter2-long-value", source="env:X")
    assert "hunter2" not in f"{secret} {secret!r} {secret!s}"
    assert secret.reveal() == "hunter2-long-value"


def test_long_secret_scrubbed_anywhere() -> None:
    register_secret("s3cr3t-value")
    assert redact("token=s3cr3t-value;x=prefix-s3cr3t-value") == "token=***;x=prefix-***"


def test_short_secret_scrubbed_only_standalone() -> None:
    register_secret("admin")
    assert (
        redact('user "admin" in Nginx admins at npm.admin.example')
        == 'user "***" in Nginx admins at npm.admin.example'
    )
    assert redact("admin") == "***"


def test_tiny_secret_not_scrubbed() -> None:
    register_secret("ab")
    assert redact("ab cab") == "ab cab"


@pytest.mark.parametrize("name", ["nginx_password", "PASSWD", "client_secret", "api_key", "X-Nginx-Token"])
def test_password_like_names(name: str) -> None:
    assert is_password_like(name)


@pytest.mark.parametrize("name", ["nginx_username", "nginx_api_url", "team"])
def test_ordinary_names(name: str) -> None:
    assert not is_password_like(name)
