"""The built-in publisher types; importing this package registers them."""

from publishers.builtin import feed, json_endpoint, manual

__all__ = ["feed", "json_endpoint", "manual"]
