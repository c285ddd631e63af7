"""The embedded run's channel layer.

The stock `InMemoryChannelLayer` keeps asyncio queues that belong to the event loop the
consumers run on (daphne's). A Celery worker thread calling `group_send` through
`async_to_sync` runs on another loop: putting into those queues from there neither wakes
daphne's loop (replies wait for its next timer, about a second) nor is it thread-safe.
This subclass remembers the loop its receivers run on and hands every operation that
arrives from another loop over to it.
"""

import asyncio
from typing import Any

from channels.layers import InMemoryChannelLayer

# Bounded so a worker never hangs on a server loop that has stopped.
CROSS_LOOP_TIMEOUT_SECONDS = 10


class LoopBoundInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, capacity: int = 1000, **kwargs: Any) -> None:
        super().__init__(capacity=capacity, **kwargs)
        self._home_loop: asyncio.AbstractEventLoop | None = None

    def _foreign_home_loop(self) -> asyncio.AbstractEventLoop | None:
        """The receivers' loop when the caller runs on another, live one; else None."""
        home = self._home_loop
        if home is None or home.is_closed() or not home.is_running():
            return None
        if home is asyncio.get_running_loop():
            return None
        return home

    async def _on_home_loop(self, operation: Any, *args: Any) -> Any:
        home = self._foreign_home_loop()
        if home is None:
            return await operation(*args)
        future = asyncio.run_coroutine_threadsafe(operation(*args), home)
        return await asyncio.wait_for(
            asyncio.wrap_future(future), timeout=CROSS_LOOP_TIMEOUT_SECONDS
        )

    async def receive(self, channel: str) -> dict:
        self._home_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict) -> None:
        await self._on_home_loop(super().send, channel, message)

    async def group_add(self, group: str, channel: str) -> None:
        await self._on_home_loop(super().group_add, group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self._on_home_loop(super().group_discard, group, channel)

    async def group_send(self, group: str, message: dict) -> None:
        await self._on_home_loop(super().group_send, group, message)
