"""The built-in connector types; importing this package registers them."""

from conversations.connectors.builtin import api, webchat

__all__ = ["api", "webchat"]
