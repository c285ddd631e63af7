"""Baseline consumers served by the same daphne, channel layer and Redis as the product.

(a) `/ws/bench/echo/`: a bare Channels consumer that echoes each frame.
(b) `/ws/bench/group/`: each frame is `group_send` to the socket's own group through the
    channel layer and echoed when the group message arrives: the cost of a room.
(c) `/ws/bench/celery/`: each frame becomes a trivial Celery task whose worker sends it
    back through `group_send`: the cost of a queued action.
"""

import uuid
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path


class EchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data)


class GroupConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.group = f"bench.{uuid.uuid4().hex}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(self.group, {"type": "bench.echo", "text": text_data})

    async def bench_echo(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


class CeleryConsumer(GroupConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        from bench.tasks import bench_echo

        bench_echo.delay(self.group, text_data)


websocket_urlpatterns = [
    path("ws/bench/echo/", EchoConsumer.as_asgi()),
    path("ws/bench/group/", GroupConsumer.as_asgi()),
    path("ws/bench/celery/", CeleryConsumer.as_asgi()),
]
