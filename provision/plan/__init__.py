"""Plans: what `apply` would change, computed from a spec and the live state without writing."""

from provision.plan.model import ABSENT, Action, FieldChange, Plan, ResourceChange

__all__ = ["ABSENT", "Action", "FieldChange", "Plan", "ResourceChange"]
