"""The web chat socket: a thin edge over the web chat connector and the services."""

import hashlib
import json
import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from conversations import realtime, selectors, services
from conversations.connectors.base import ConnectorIdentity, InvalidInbound
from conversations.connectors.webchat import WebChatConnector
from conversations.engine.messages import OutboundMessage
from conversations.exceptions import BotNotFound

logger = logging.getLogger(__name__)

CLOSE_BOT_NOT_FOUND = 4404
CLOSE_UNSUPPORTED_DATA = 1003


def chat_identity(scope: dict[str, Any], bot_slug: str) -> ConnectorIdentity:
    """Who is on this socket: the logged-in user, else the visitor's session, else a stranger.

    Every web chat participant gets a one-to-one room with the bot.
    """
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        external_id = f"user:{user.pk}"
        return ConnectorIdentity(
            bot_slug=bot_slug,
            room_external_id=external_id,
            participant_external_id=external_id,
            participant_name=user.get_username(),
            is_direct=True,
            user_id=user.pk,
        )
    session = scope.get("session")
    session_key = getattr(session, "session_key", None)
    # The session key is a credential: only its digest is stored.
    visitor = (
        hashlib.sha256(session_key.encode()).hexdigest()[:32] if session_key else uuid.uuid4().hex
    )
    external_id = f"visitor:{visitor}"
    return ConnectorIdentity(
        bot_slug=bot_slug,
        room_external_id=external_id,
        participant_external_id=external_id,
        participant_name="Visitor",
        is_direct=True,
    )


class ChatConsumer(AsyncJsonWebsocketConsumer):
    connector = WebChatConnector()

    async def connect(self) -> None:
        self.room_group: str | None = None
        self.identity = chat_identity(self.scope, self.scope["url_route"]["kwargs"]["bot_slug"])
        await self.accept()
        try:
            room = await database_sync_to_async(services.chat_room_open)(
                identity=self.identity, connector=self.connector.key
            )
        except BotNotFound as error:
            await self._error(error.code, error.detail)
            await self.close(code=CLOSE_BOT_NOT_FOUND)
            return
        self.room_group = realtime.room_group(room.pk)
        await self.channel_layer.group_add(self.room_group, self.channel_name)
        history = await database_sync_to_async(selectors.messages_recent)(room_id=room.pk)
        for message in history:
            await self.send_json(self.connector.render(message))

    async def disconnect(self, code: int) -> None:
        if self.room_group:
            await self.channel_layer.group_discard(self.room_group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.close(code=CLOSE_UNSUPPORTED_DATA)
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("invalid_json", "A frame must be valid JSON.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.room_group is None:
            return
        try:
            inbound = self.connector.parse(content, self.identity)
        except InvalidInbound as error:
            await self._error(error.code, error.detail)
            return
        try:
            receipt = await database_sync_to_async(services.message_receive)(inbound=inbound)
        except BotNotFound as error:
            await self._error(error.code, error.detail)
            await self.close(code=CLOSE_BOT_NOT_FOUND)
            return
        if inbound.client_id is not None:
            await self.send_json(
                {"type": "ack", "client_id": str(inbound.client_id), "id": receipt.message.id}
            )
        if receipt.is_duplicate:
            return
        for message in (receipt.message, *receipt.replies):
            await realtime.message_broadcast_async(message)

    async def message_created(self, event: dict[str, Any]) -> None:
        await self.send_json(self.connector.render(OutboundMessage(**event["message"])))

    async def _error(self, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail})
