"""The built-in connector types; importing this module registers them."""

from conversations.connectors import webchat

__all__ = ["webchat"]
