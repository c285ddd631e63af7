"""Channel group names and event types: the only place that knows them.

Messages are stored before they are broadcast; a broadcast that fails (layer down, socket
gone) loses nothing, because clients catch up from the database by last message id.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from conversations.engine.messages import OutboundMessage

logger = logging.getLogger(__name__)

#: Event type of a stored message pushed to a room; consumers handle it in `message_created`.
MESSAGE_CREATED = "message.created"
#: The bot started or stopped working on a room's queued calls; handled in `room_typing`.
ROOM_TYPING = "room.typing"


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def message_event(message: OutboundMessage) -> dict[str, Any]:
    return {"type": MESSAGE_CREATED, "message": message.as_dict()}


async def message_broadcast_async(message: OutboundMessage) -> None:
    """From async code (consumers): push a stored message to the sockets of its room."""
    layer = get_channel_layer()
    try:
        await layer.group_send(room_group(message.room_id), message_event(message))
    except Exception:
        # The message is stored; sockets will catch up. Never fail the caller for this.
        logger.exception("broadcast of message %s to room %s failed", message.id, message.room_id)


def message_broadcast(message: OutboundMessage) -> None:
    """From sync code (services, Celery workers): push a stored message to its room."""
    async_to_sync(message_broadcast_async)(message)


async def typing_broadcast_async(room_id: int, *, is_typing: bool) -> None:
    try:
        await get_channel_layer().group_send(
            room_group(room_id), {"type": ROOM_TYPING, "is_typing": is_typing}
        )
    except Exception:
        logger.exception("typing broadcast to room %s failed", room_id)


def typing_broadcast(room_id: int, *, is_typing: bool) -> None:
    """From sync code: tell the room's sockets whether the bot is working for it."""
    async_to_sync(typing_broadcast_async)(room_id, is_typing=is_typing)


def messages_broadcast(messages: list[OutboundMessage]) -> None:
    """From sync code: push many stored messages (a post fanned out to rooms) in one go."""

    async def send_all() -> None:
        for message in messages:
            await message_broadcast_async(message)

    if messages:
        async_to_sync(send_all)()
