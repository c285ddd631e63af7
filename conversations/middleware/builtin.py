"""The built-in middleware types; importing this module registers them."""

from conversations.middleware import ignore_list, limits, retention

__all__ = ["ignore_list", "limits", "retention"]
