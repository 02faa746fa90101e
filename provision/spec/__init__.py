"""Loading and checking spec files."""

from provision.spec.load import SpecFile, load_spec

__all__ = ["SpecFile", "load_spec"]
