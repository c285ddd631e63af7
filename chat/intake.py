"""Group commit for the web chat: the messages of every socket a server process holds are
stored in batches, one lookup and one transaction per batch.

Channels runs every `database_sync_to_async` call of a process on one shared thread, so a
message's database work used to wait behind every other socket's, one round trip after
another (BENCHMARKS.md). Here a message arriving while that thread is busy waits in a
queue, and the next trip takes everything that has gathered: under load the round trips
and commits are shared by many messages; a lone message goes at once, with no timer.
"""

import asyncio
import weakref
from collections import deque

from channels.db import database_sync_to_async
from django.conf import settings

from chat import messages
from chat.messages import MessageReceipt
from engine.messages import InboundMessage


class MessageIntake:
    """The queue of one event loop's inbound chat messages, and the task draining it."""

    def __init__(self, *, batch_max: int) -> None:
        self.batch_max = batch_max
        self._waiting: deque[tuple[InboundMessage, asyncio.Future[MessageReceipt]]] = deque()
        self._drainer: asyncio.Task[None] | None = None

    async def receive(self, inbound: InboundMessage) -> MessageReceipt:
        """`message_receive`, stored together with whatever else is waiting."""
        future: asyncio.Future[MessageReceipt] = asyncio.get_running_loop().create_future()
        self._waiting.append((inbound, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        # A caller cancelled meanwhile (its socket closed) leaves the message in the batch:
        # once taken, a message is stored, as it would be by a call already on its thread.
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            count = min(len(self._waiting), self.batch_max)
            batch = [self._waiting.popleft() for _ in range(count)]
            try:
                results = await database_sync_to_async(messages.messages_receive)(
                    inbounds=[inbound for inbound, _ in batch]
                )
            except Exception as error:  # the database itself failed: every message did
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)


_intakes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MessageIntake]" = (
    weakref.WeakKeyDictionary()
)


def message_intake() -> MessageIntake:
    """The running event loop's intake (its futures and task belong to that loop)."""
    loop = asyncio.get_running_loop()
    intake = _intakes.get(loop)
    if intake is None:
        intake = _intakes[loop] = MessageIntake(batch_max=settings.CHAT_RECEIVE_BATCH_MAX)
    return intake
