"""The web chat socket: a thin edge over the web chat connector and the services.

Protocol (docs/websocket-protocol.md): the client says `hello` (its visitor token and the
last message id it saw), the server answers `welcome`, then what the client missed, then
live `message`, `ack`, `typing` and `error` frames.
"""

import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from actions.selectors import room_is_busy
from botsite.consumers import DirectJsonWebsocketConsumer
from botsite.database_outage import (
    SOCKET_DETAIL,
    WEBSOCKET_CLOSE_CODE,
    database_outage_log,
    is_database_outage,
)
from botsite.json_limits import JsonTooDeep, json_loads_limited
from chat import identity
from chat.address_limits import AddressAllowance
from chat.intake import message_intake
from chat.socket_feed import SocketFeed
from conversations import realtime, selectors, services
from conversations.connectors.base import ConnectorIdentity, InvalidInbound
from conversations.connectors.builtin.webchat import WebChatConnector
from conversations.exceptions import BotNotFound
from conversations.models import Room
from engine.messages import OutboundMessage

logger = logging.getLogger(__name__)

# Application codes: autobahn, under daphne, lets an application close only with 1000 or
# 3000-4999 (a 1003 or 1009 raised, and daphne closed with 1011 and logged a traceback).
# They mirror 1003 and 1009; frames over daphne's own read limit still close with 1009.
CLOSE_UNSUPPORTED_DATA = 4003
CLOSE_TOO_BIG = 4009
CLOSE_BOT_NOT_FOUND = 4404
CLOSE_FLOODING = 4429
CLOSE_UNAVAILABLE = WEBSOCKET_CLOSE_CODE
CLOSE_TOO_MANY_SOCKETS = 4430
#: Refused frames tolerated after the first "rate_limited" error before the socket closes.
FLOOD_REFUSALS_BEFORE_CLOSE = 20


class FloodGuard:
    """A token bucket for one socket: bursts pass, a sustained flood is refused."""

    def __init__(self, burst: int, per_second: float) -> None:
        self.capacity, self.per_second = burst, per_second
        self.tokens, self.at = float(burst), time.monotonic()
        self.refusals = 0

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return self.refuse()

    def refuse(self) -> bool:
        self.refusals += 1
        return False


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class ChatConsumer(DirectJsonWebsocketConsumer):
    connector = WebChatConnector()
    room_group: str | None = None
    #: False while the channel layer is down (live pushes paused); the client is told.
    is_live = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when a handler raised, or the server cancelled a consumer too slow to
            # stop: `disconnect` is not called then, and the place would be held for good.
            address = getattr(self, "address", None)
            if address is not None:
                await address.socket_close()

    async def connect(self) -> None:
        self.identity: ConnectorIdentity | None = None
        self.feed = SocketFeed()
        self.bot_slug = self.scope["url_route"]["kwargs"]["bot_slug"]
        self.flood = FloodGuard(settings.CHAT_FLOOD_BURST, settings.CHAT_FLOOD_PER_SECOND)
        self.address = AddressAllowance(self.scope)
        # First, before any database work: under a socket flood most handshakes end here.
        if not await self.address.socket_open():
            await self.accept()
            await self._error("too_many_sockets", "Too many chat sockets from your address.")
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        origin = _header(self.scope, b"origin")
        is_allowed = await database_sync_to_async(services.chat_origin_allowed)(
            bot_slug=self.bot_slug,
            origin=origin,
            host=_header(self.scope, b"host"),
            is_secure=self.scope.get("scheme") == "wss",
        )
        if not is_allowed:
            logger.info("chat socket for %s refused for origin %r", self.bot_slug, origin)
            await self.close()  # before accept: the handshake is refused with 403
            return
        await self.accept()

    async def dispatch_failed(self, message: dict[str, Any], error: Exception) -> None:
        if not is_database_outage(error):
            raise error
        await self._database_unavailable(
            error, is_connecting=message["type"] == "websocket.connect"
        )

    async def disconnect(self, code: int) -> None:
        await self.address.socket_close()
        if self.room_group:
            await self.channel_layer.group_discard(self.room_group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.close(code=CLOSE_UNSUPPORTED_DATA)
            return
        if len(text_data.encode()) > settings.CHAT_FRAME_MAX_BYTES:
            await self.close(code=CLOSE_TOO_BIG)  # daphne's read limit (1009) normally comes first
            return
        # The address's allowance, shared by all its sockets, is refused as the socket's own.
        if not (self.flood.allow() and (await self.address.frame_allow() or self.flood.refuse())):
            if self.flood.refusals > FLOOD_REFUSALS_BEFORE_CLOSE:
                await self.close(code=CLOSE_FLOODING)
            elif self.flood.refusals == 1 or self.flood.refusals % 5 == 0:
                await self._error("rate_limited", "Too many messages; slow down.")
            return
        try:
            content = json_loads_limited(text_data)
        except JsonTooDeep as error:
            await self._error("invalid_json", str(error))
            return
        except ValueError:
            await self._error("invalid_json", "A frame must be valid JSON.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "hello":
            await self._hello(content)
            return
        if self.room_group is None:
            await self._hello({})  # a client that does not greet gets the defaults
        if self.room_group is None or self.identity is None:
            return
        try:
            inbound = self.connector.parse(content, self.identity)
        except InvalidInbound as error:
            await self._error(error.code, error.detail)
            return
        try:
            receipt = await message_intake().receive(inbound)
        except BotNotFound as error:
            await self._error(error.code, error.detail)
            await self.close(code=CLOSE_BOT_NOT_FOUND)
            return
        except Exception as error:
            if is_database_outage(error):
                # Stored in one transaction or not at all: the client may send it again.
                await self._database_unavailable(error, client_id=inbound.client_id)
                return
            # Its batch was stored without it (messages_receive); only it failed.
            logger.exception("bot %s: a chat message could not be stored", self.bot_slug)
            await self._error("not_stored", "The message could not be stored; send it again.")
            return
        if inbound.client_id is not None:
            await self.send_json(
                {"type": "ack", "client_id": str(inbound.client_id), "id": receipt.message.id}
            )
        if receipt.is_duplicate:
            return
        # The sender's socket straight away; the room's other sockets (other tabs, other
        # members) through the channel layer, a round trip to Redis this one need not wait for.
        created = realtime.messages_event(
            [receipt.message, *receipt.replies],
            is_typing=True if receipt.is_bot_working else None,
            sent_to=self.channel_name,
        )
        await self._messages_send(created)
        await realtime.room_event_send_async(receipt.message.room_id, created)

    async def _hello(self, content: dict[str, Any]) -> None:
        if self.room_group is not None:
            await self._error("already_greeted", "This socket has said hello already.")
            return
        last_id = content.get("last_id")
        if last_id is not None and (not isinstance(last_id, int) or isinstance(last_id, bool)):
            await self._error("invalid_last_id", "'last_id' must be a message id (integer).")
            return
        self.identity, token = identity.chat_identity(
            bot_slug=self.bot_slug,
            user=self.scope.get("user"),
            cookie=self.scope.get("cookies", {}).get(identity.COOKIE_NAME),
            visitor_token=content.get("visitor"),
        )
        try:
            room, missed, is_busy = await database_sync_to_async(self._room_enter)(
                self.identity, last_id
            )
        except BotNotFound as error:
            await self._error(error.code, error.detail)
            await self.close(code=CLOSE_BOT_NOT_FOUND)
            return
        self.room_group, self.room_id = realtime.room_group(room.pk), room.pk
        await self.channel_layer.group_add(self.room_group, self.channel_name)
        self.feed.start_after(last_id)
        await self.send_json(
            {
                "type": "welcome",
                "room": room.pk,
                "participant": {"name": self.identity.participant_name},
                "visitor": token,
            }
        )
        await self._messages_render(missed)
        if is_busy:
            await self.send_json({"type": "typing", "is_typing": True})
        if not self.is_live:
            await self._status_send()

    def _room_enter(
        self, identity: ConnectorIdentity, last_id: int | None
    ) -> tuple[Room, list[OutboundMessage], bool]:
        """In one trip to the database thread: the room, what the socket missed, and
        whether the bot is working for the room."""
        room = services.chat_room_open(identity=identity, connector=self.connector.key)
        missed = selectors.messages_recent(room_id=room.pk, after_id=last_id)
        return room, missed, room_is_busy(room_id=room.pk)

    async def messages_created(self, event: dict[str, Any]) -> None:
        if event.get("sent_to") != self.channel_name:
            await self._messages_send(event)

    async def _messages_send(self, event: dict[str, Any]) -> None:
        await self._messages_render([OutboundMessage(**message) for message in event["messages"]])
        if "is_typing" in event:
            await self.send_json({"type": "typing", "is_typing": event["is_typing"]})

    async def _messages_render(self, messages: list[OutboundMessage]) -> None:
        for message in self.feed.unsent(messages):
            await self.send_json(self.connector.render(message))

    async def layer_lost(self, event: dict[str, Any]) -> None:
        if self.is_live:
            self.is_live = False
            if self.room_group is not None:
                await self._status_send()

    async def layer_restored(self, event: dict[str, Any]) -> None:
        # What the room was pushed while the layer was down is lost: catch up by last id.
        if self.room_group is not None:
            missed, is_busy = await database_sync_to_async(self._room_catch_up)()
            await self._messages_render(missed)
            await self.send_json({"type": "typing", "is_typing": is_busy})
        if not self.is_live:
            self.is_live = True
            if self.room_group is not None:
                await self._status_send()

    def _room_catch_up(self) -> tuple[list[OutboundMessage], bool]:
        missed = selectors.messages_recent(room_id=self.room_id, after_id=self.feed.last_id)
        return missed, room_is_busy(room_id=self.room_id)

    async def _status_send(self) -> None:
        await self.send_json({"type": "status", "live": self.is_live})

    async def room_typing(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "typing", "is_typing": event["is_typing"]})

    async def _error(self, code: str, detail: str, **extra: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail, **extra})

    async def _database_unavailable(
        self, error: Exception, *, client_id: object = None, is_connecting: bool = False
    ) -> None:
        """The database failed this socket: a greeted socket stays open (what it sent was
        not stored); one not greeted yet closes so that the client says hello again."""
        database_outage_log(error, "chat sockets")
        extra = {} if client_id is None else {"client_id": str(client_id)}
        if is_connecting:
            await self.accept()  # a close before accept would read as a refused origin (403)
        await self._error("unavailable", SOCKET_DETAIL, **extra)
        if self.room_group is None:
            await self.close(code=CLOSE_UNAVAILABLE)
