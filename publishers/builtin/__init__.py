"""The built-in publisher types; importing this package registers them."""

from publishers.builtin import manual

__all__ = ["manual"]
