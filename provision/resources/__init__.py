"""One module per kind of authentik object: how the spec maps to the API and back."""

from provision.resources.applications import Applications
from provision.resources.base import Resource
from provision.resources.groups import Groups
from provision.resources.outposts import Outposts
from provision.resources.proxy_providers import ProxyProviders
from provision.resources.scope_mappings import ScopeMappings

# Apply order: a kind only refers to kinds earlier in this tuple.
RESOURCES: tuple[Resource, ...] = (
    Groups(),
    ScopeMappings(),
    ProxyProviders(),
    Applications(),
    Outposts(),
)

__all__ = ["RESOURCES", "Resource"]
