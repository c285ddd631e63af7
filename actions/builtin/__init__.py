"""The built-in action types; importing this package registers them."""

from actions.builtin import help, latest_posts, say, template_reply

__all__ = ["help", "latest_posts", "say", "template_reply"]
