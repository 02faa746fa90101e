"""What a fresh authentik install holds, per release, as far as the tool can see it.

Names, slugs and managed keys are the ones authentik ships (blueprints/system and
blueprints/default at each release tag); expressions are short stand-ins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .handlers.outposts import EMBEDDED

if TYPE_CHECKING:
    from .fake import FakeAuthentik

SCOPES = [
    # (managed key, name, scope_name, description, first release)
    ("goauthentik.io/providers/oauth2/scope-openid", "OpenID 'openid'", "openid", "", "2023.10"),
    ("goauthentik.io/providers/oauth2/scope-email", "OpenID 'email'", "email", "Email address", "2023.10"),
    (
        "goauthentik.io/providers/oauth2/scope-profile",
        "OpenID 'profile'",
        "profile",
        "General Profile Information",
        "2023.10",
    ),
    (
        "goauthentik.io/providers/oauth2/scope-entitlements",
        "Application Entitlements",
        "entitlements",
        "Application entitlements",
        "2024.12",
    ),
    (
        "goauthentik.io/providers/proxy/scope-proxy",
        "Proxy outpost",
        "ak_proxy",
        "authentik Proxy - User information",
        "2023.10",
    ),
]

FLOWS = [
    # (slug, name, title, designation, authentication, first release)
    (
        "default-authentication-flow",
        "Welcome to authentik!",
        "Welcome to authentik!",
        "authentication",
        "none",
        "2023.10",
    ),
    (
        "default-provider-authorization-implicit-consent",
        "Authorize Application",
        "Redirecting to %(app)s",
        "authorization",
        "require_authenticated",
        "2023.10",
    ),
    (
        "default-provider-authorization-explicit-consent",
        "Authorize Application",
        "Redirecting to %(app)s",
        "authorization",
        "require_authenticated",
        "2023.10",
    ),
    ("default-invalidation-flow", "Logout", "Default Invalidation Flow", "invalidation", "none", "2023.10"),
    # Created by a migration when invalidation_flow became required (2024.10).
    (
        "default-provider-invalidation-flow",
        "Logged out of application",
        "You've logged out of %(app)s.",
        "invalidation",
        "none",
        "2024.10",
    ),
]


def seed(fake: FakeAuthentik) -> None:
    release = fake.release
    admins = fake.create_record("group", name="authentik Admins", is_superuser=True)
    akadmin = fake.create_record(
        "user", username="akadmin", name="authentik Default Admin", email="root@localhost"
    )
    admins["users"].append(akadmin["pk"])
    for slug, name, title, designation, authentication, since in FLOWS:
        if release.at_least(since):
            fake.create_record(
                "flow",
                slug=slug,
                name=name,
                title=title,
                designation=designation,
                authentication=authentication,
            )
    for managed, name, scope_name, description, since in SCOPES:
        if release.at_least(since):
            fake.create_record(
                "scope_mapping",
                managed=managed,
                name=f"authentik default OAuth Mapping: {name}",
                scope_name=scope_name,
                description=description,
                expression="return {}",
            )
    fake.create_record(
        "outpost",
        name="authentik Embedded Outpost",
        type="proxy",
        providers=[],
        managed=EMBEDDED,
    )
    fake.create_record("certificate", name="authentik Self-signed Certificate")
