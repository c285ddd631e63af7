"""The built-in middleware types; importing this package registers them."""

from conversations.middleware.builtin import ignore_list, limits, retention

__all__ = ["ignore_list", "limits", "retention"]
