"""Plan, apply and drift-check authentik configuration from a declarative YAML spec."""

__version__ = "0.1.0"
