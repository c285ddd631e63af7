"""Use cases of the conversations app: identify, store, hand to the engine, queue.

One module per concept, the names here for callers:

- `messages`: a message's way in (`message_receive`, `messages_receive`, the group
  commit), and the purge of expired messages;
- `rooms`: the enabled bot, rooms and participants by connector identity, the chat's
  Origin rule;
- `memory`: memory edited by hand, and its expiry.
"""

from conversations.services.memory import memory_entries_changed, memory_entries_purge
from conversations.services.messages import (
    MessageReceipt,
    message_receive,
    messages_expired_purge,
    messages_receive,
)
from conversations.services.rooms import (
    LAST_SEEN_RESOLUTION,
    bot_get_enabled,
    chat_origin_allowed,
    chat_room_open,
    participant_identify,
    participant_seen,
    room_open,
)

__all__ = [
    "LAST_SEEN_RESOLUTION",
    "MessageReceipt",
    "bot_get_enabled",
    "chat_origin_allowed",
    "chat_room_open",
    "memory_entries_changed",
    "memory_entries_purge",
    "message_receive",
    "messages_expired_purge",
    "messages_receive",
    "participant_identify",
    "participant_seen",
    "room_open",
]
