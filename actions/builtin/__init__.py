"""The built-in action types; importing this package registers them."""

from actions.builtin import (
    custom_commands,
    help,
    http_json,
    latest_posts,
    memory,
    moderation,
    reminders,
    say,
    subscriptions,
    template_reply,
)

__all__ = [
    "custom_commands",
    "help",
    "http_json",
    "latest_posts",
    "memory",
    "moderation",
    "reminders",
    "say",
    "subscriptions",
    "template_reply",
]
