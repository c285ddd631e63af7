"""The built-in connector types; importing this package registers them."""

from conversations.connectors.builtin import api, irc, matrix, twitch, webchat, xmpp

__all__ = ["api", "irc", "matrix", "twitch", "webchat", "xmpp"]
