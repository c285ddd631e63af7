"""Channel group names and event types: the only place that knows them.

Messages are stored before they are broadcast; a broadcast that fails (layer down, socket
gone) loses nothing, because clients catch up from the database by last message id.
"""

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from botsite import channel_layers
from engine.messages import OutboundMessage

logger = logging.getLogger(__name__)

P = ParamSpec("P")

#: Event type of stored messages of one room pushed to it, oldest first (a message and the
#: replies decided with it travel together); consumers handle it in `messages_created`.
MESSAGES_CREATED = "messages.created"
#: The bot started or stopped working on a room's queued calls; handled in `room_typing`.
ROOM_TYPING = "room.typing"
#: The channel layer's own events (`botsite/channel_layers.py`): live pushes paused,
#: then back (sockets catch up from the database); handled in `layer_lost` and
#: `layer_restored`.
LAYER_LOST, LAYER_RESTORED = channel_layers.LAYER_LOST, channel_layers.LAYER_RESTORED


#: How long sync code waits for a broadcast on the bridge; the messages are stored either
#: way, so a stuck channel layer costs this much once, not a lost reply.
BRIDGE_TIMEOUT_SECONDS = 10.0


class _LoopBridge:
    """An event loop on a thread of its own, for sync code outside any ASGI server.

    `async_to_sync` called from a plain thread builds a new event loop (and a new thread)
    for every call, and channels-redis keeps its connections per event loop: each
    broadcast from a Celery worker connected to Redis anew. Here the loop lives as long
    as the process, and with it the channel layer's connections.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="realtime-bridge", daemon=True).start()

    def call(self, coroutine: Awaitable[None]) -> None:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]
        try:
            future.result(BRIDGE_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            logger.error(
                "broadcast took over %ss; left to the clients' catch-up", BRIDGE_TIMEOUT_SECONDS
            )


_bridge: _LoopBridge | None = None


def sync_bridge_start() -> None:
    """Send this process's broadcasts from sync code through one long-lived event loop.

    For processes that broadcast from plain threads many times (Celery's prefork
    children: `botsite.celery` starts it in each). Not for a process that serves ASGI:
    there `async_to_sync` already runs on the server's own loop.
    """
    global _bridge
    if _bridge is None or _bridge.pid != os.getpid():  # a fork inherits no running thread
        _bridge = _LoopBridge()


def _run_from_sync(
    function: Callable[P, Awaitable[None]], *args: P.args, **kwargs: P.kwargs
) -> None:
    bridge = _bridge
    if bridge is not None and bridge.pid == os.getpid():
        bridge.call(function(*args, **kwargs))
    else:
        async_to_sync(function)(*args, **kwargs)


#: Every bridge's socket listens here: connectors changed, hold them anew.
BRIDGES_GROUP = "bridges"
CONNECTORS_CHANGED = "connectors.changed"


def connectors_changed_broadcast() -> None:
    """From sync code, after the commit: tell every bridge's socket to lease again now,
    rather than at its next status beat."""

    async def send() -> None:
        try:
            await get_channel_layer().group_send(BRIDGES_GROUP, {"type": CONNECTORS_CHANGED})
        except (RedisError, OSError) as error:
            logger.warning("telling the bridges failed (they lease at their next beat): %s", error)

    _run_from_sync(send)


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def messages_event(
    messages: Sequence[OutboundMessage],
    *,
    is_typing: bool | None = None,
    sent_to: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": MESSAGES_CREATED,
        "messages": [message.as_dict() for message in messages],
    }
    if is_typing is not None:
        event["is_typing"] = is_typing
    if sent_to is not None:
        event["sent_to"] = sent_to
    return event


async def messages_broadcast_async(
    messages: Sequence[OutboundMessage], *, is_typing: bool | None = None
) -> None:
    """From async code (consumers): push stored messages of one room to its sockets, and
    whether the bot is (still) working for the room when that changed, in one channel-layer
    message: each group send is a round trip to Redis."""
    if not messages:
        return
    room_id = messages[0].room_id
    if any(message.room_id != room_id for message in messages):
        raise ValueError("messages_broadcast_async sends the messages of one room")
    await room_event_send_async(room_id, messages_event(messages, is_typing=is_typing))


async def room_event_send_async(room_id: int, event: dict[str, Any]) -> None:
    """Send an event of `messages_event` to the room's sockets. A socket named in its
    `sent_to` (the sender's, answered directly) skips it."""
    try:
        await get_channel_layer().group_send(room_group(room_id), event)
    except (RedisError, OSError) as error:
        # The messages are stored; sockets catch up when the layer is back (the layer
        # tells them). An outage is not a bug: one line, no traceback.
        logger.warning(
            "broadcast of %d messages to room %s failed: %s", len(event["messages"]), room_id, error
        )
    except Exception:
        # The messages are stored; sockets will catch up. Never fail the caller for this.
        logger.exception(
            "broadcast of %d messages to room %s failed", len(event["messages"]), room_id
        )


def messages_broadcast(
    messages: Sequence[OutboundMessage], *, is_typing: bool | None = None
) -> None:
    """From sync code (services, Celery workers): push stored messages of one room."""
    _run_from_sync(messages_broadcast_async, messages, is_typing=is_typing)


def message_broadcast(message: OutboundMessage) -> None:
    """From sync code: push one stored message to its room."""
    messages_broadcast([message])


async def typing_broadcast_async(room_id: int, *, is_typing: bool) -> None:
    try:
        await get_channel_layer().group_send(
            room_group(room_id), {"type": ROOM_TYPING, "room_id": room_id, "is_typing": is_typing}
        )
    except (RedisError, OSError) as error:
        logger.warning("typing broadcast to room %s failed: %s", room_id, error)
    except Exception:
        logger.exception("typing broadcast to room %s failed", room_id)


def typing_broadcast(room_id: int, *, is_typing: bool) -> None:
    """From sync code: tell the room's sockets whether the bot is working for it."""
    _run_from_sync(typing_broadcast_async, room_id, is_typing=is_typing)


def rooms_messages_broadcast(messages: Sequence[OutboundMessage]) -> None:
    """From sync code: push stored messages each to its own room (one post fanned out to
    many rooms), one group send per room, all from one event loop."""

    async def send_all() -> None:
        for message in messages:
            await messages_broadcast_async([message])

    if messages:
        _run_from_sync(send_all)
