"""Benchmarks of provision against the in-process fake or a real authentik (see bench/run.py)."""
