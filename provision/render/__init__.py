"""Renderers that turn a spec or a plan into other formats: Markdown, blueprints, proxy configuration."""
