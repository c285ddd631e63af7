"""What Botsite's socket consumers share."""

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer


class DirectJsonWebsocketConsumer(AsyncJsonWebsocketConsumer):
    """A JSON socket consumer that hands each message straight to its handler.

    Channels' own dispatch first closes stale database connections, a hop to the one
    thread that all of a process's database work shares, before every frame and every
    group event. Under load that thread is busy storing batches, so each frame waited
    behind them twice (BENCHMARKS.md). These consumers touch the database only through
    `database_sync_to_async`, which does the same cleanup around each of its calls.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except Exception as error:
            await self.dispatch_failed(message, error)

    async def dispatch_failed(self, message: dict[str, Any], error: Exception) -> None:
        """A handler raised: by default the error stands (the socket closes with 1011)."""
        raise error
