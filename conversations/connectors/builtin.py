"""The built-in connector types; importing this module registers them."""

from conversations.connectors import api, webchat

__all__ = ["api", "webchat"]
