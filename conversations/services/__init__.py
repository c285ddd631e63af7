"""Use cases of the conversations app: identify, store, hand to the engine, queue.

One module per concept, the names here for callers:

- `messages`: the purge of expired messages (a message's way in is `chat/messages.py`);
- `rooms`: the enabled bot, rooms and participants by connector identity, the chat's
  Origin rule;
- `memory`: memory edited by hand, and its expiry.
"""

from conversations.services.memory import memory_entries_changed, memory_entries_purge
from conversations.services.messages import messages_expired_purge
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
    "bot_get_enabled",
    "chat_origin_allowed",
    "chat_room_open",
    "memory_entries_changed",
    "memory_entries_purge",
    "messages_expired_purge",
    "participant_identify",
    "participant_seen",
    "room_open",
]
