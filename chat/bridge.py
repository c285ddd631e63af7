"""The bridges' socket: one authenticated WebSocket per bridge process, carrying the rooms
of every connector it holds (docs/bridge-protocol.md).

In: `hello` (the bridge token and the bridge's name), `inbound` (a network message, acked
once stored: a frame sent again is stored once), `sent` (messages now on their network),
`status` (each connection's state, every few seconds; it renews the bridge's leases).
Out: `connectors` (what to connect to, sent again when it changes), `ack`, `say`.
"""

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from botsite.consumers import DirectJsonWebsocketConsumer
from botsite.database_outage import database_outage_log, is_database_outage
from botsite.json_limits import json_loads_limited
from chat.intake import message_intake
from chat.messages import MessageReceipt
from conversations import realtime
from conversations.connectors.base import ConnectorIdentity, ConnectorType, InvalidInbound
from conversations.connectors.registry import connector_types
from conversations.exceptions import BotNotFound
from conversations.models import Connector, Message, Participant, Room
from conversations.services import connectors as services
from conversations.services import participant_identify
from engine.messages import OutboundMessage

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_PROTOCOL = 4400
#: `Room.external_id` and `Participant.external_id`: "<connector id>/<network's name>".
EXTERNAL_ID_MAX_CHARS = 255
#: A connector's "last message in" is written at most this often from one socket.
SEEN_IN_SECONDS = 10.0


@dataclass(frozen=True)
class _Held:
    """A connector this socket's bridge holds, as far as frames need it."""

    id: int
    bot_slug: str
    kind: str
    type: ConnectorType
    config: dict[str, Any]


class BridgeConsumer(DirectJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.holder = ""
        #: The latest lease this socket took (none yet: nothing of the holder's to release).
        self.leased_until: datetime | None = None
        self.held: dict[int, _Held] = {}
        self.payload: list[dict[str, Any]] = []
        self.rooms: dict[tuple[int, str], int] = {}
        self.room_targets: dict[int, tuple[int, str]] = {}
        self.groups: set[str] = set()
        #: Ids of bot messages said on this socket and not yet confirmed sent.
        self.said: set[int] = set()
        #: Ids the bridge sent onto its networks, to mark relayed; and the task marking them.
        self.relayed: set[int] = set()
        self.marker: asyncio.Task[None] | None = None
        self.trusted: dict[tuple[int, str], int] = {}
        self.seen_in: dict[int, float] = {}
        #: The stores in flight (the loop keeps only weak references to tasks).
        self.stores: set[asyncio.Task[None]] = set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.holder and self.leased_until is not None:
            try:
                await database_sync_to_async(services.connectors_release)(
                    holder=self.holder, leased_until=self.leased_until
                )
            except Exception as error:
                if not is_database_outage(error):
                    raise
                database_outage_log(error, "bridges")  # the leases run out by themselves

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.close(code=CLOSE_PROTOCOL)
            return
        try:
            content = json_loads_limited(text_data)
        except ValueError:
            await self._error("invalid_json", "A frame must be valid JSON.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "hello":
            await self._hello(content)
        elif not self.holder:
            await self.close(code=CLOSE_UNAUTHORIZED)
        elif kind == "inbound":
            await self._inbound(content)
        elif kind == "sent":
            await self._sent(content)
        elif kind == "status":
            await self._status(content)
        else:
            await self._error("unknown_type", f"Unknown frame type {kind!r}.")

    async def _hello(self, content: dict[str, Any]) -> None:
        token, holder = content.get("token"), content.get("bridge")
        expected = settings.BRIDGE_TOKEN
        if not (
            expected
            and isinstance(token, str)
            and hmac.compare_digest(token.encode(), expected.encode())
        ):
            logger.warning("a bridge presented a wrong token; closed")
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        if self.holder or not isinstance(holder, str) or not 0 < len(holder) <= 200:
            await self.close(code=CLOSE_PROTOCOL)
            return
        self.holder = holder
        self.groups.add(realtime.BRIDGES_GROUP)
        await self.channel_layer.group_add(realtime.BRIDGES_GROUP, self.channel_name)
        await self._lease()
        await self._relay_catch_up()

    async def _lease(self) -> None:
        """Take or renew the leases; tell the bridge when what it holds changed."""
        connectors, rooms = await database_sync_to_async(self._lease_sync)()
        self.leased_until = max(
            (c.lease_until for c in connectors if c.lease_until is not None),
            default=self.leased_until,
        )
        self.held = {
            connector.pk: _Held(
                connector.pk,
                connector.bot.slug,
                connector.kind,
                connector_types.get(connector.kind)(),
                connector.config,
            )
            for connector in connectors
        }
        for room in rooms:
            await self._room_follow(room.pk, room.via_id, room.external_id.split("/", 1)[1])
        payload = [
            {
                "id": connector.pk,
                "kind": connector.kind,
                "bot": connector.bot.slug,
                "name": connector.name,
                "command_prefix": connector.bot.command_prefix,
                "config": connector.config,
                "secret": services.connector_secret(connector),
                "cursor": connector.cursor,
            }
            for connector in connectors
        ]
        # The cursor moves as the bridge reports it: news to the bridge only with the rest.
        if _without_cursor(payload) != _without_cursor(self.payload):
            self.payload = payload
            await self.send_json({"type": "connectors", "connectors": payload})

    def _lease_sync(self) -> tuple[list[Connector], list[Room]]:
        connectors = services.connectors_lease(holder=self.holder)
        for connector in connectors:
            for target in connector_types.get(connector.kind)().rooms_configured(connector.config):
                services.connector_room_open(connector=connector, target=target, is_direct=False)
        rooms = list(Room.objects.filter(via__in=connectors).only("pk", "via_id", "external_id"))
        return connectors, rooms

    async def _room_follow(self, room_id: int, connector_id: int, target: str) -> None:
        self.rooms[(connector_id, target)] = room_id
        self.room_targets[room_id] = (connector_id, target)
        group = realtime.room_group(room_id)
        if group not in self.groups:
            self.groups.add(group)
            await self.channel_layer.group_add(group, self.channel_name)

    async def _inbound(self, content: dict[str, Any]) -> None:
        connector_id = content.get("connector")
        held = self.held.get(connector_id) if isinstance(connector_id, int) else None
        target, sender = content.get("room"), content.get("sender")
        if held is None:
            await self._error("not_held", "This bridge does not hold that connector.")
            return
        if not isinstance(target, str) or not isinstance(sender, dict):
            await self._error("invalid_frame", "'room' and 'sender' are required.")
            return
        sender_id, name = sender.get("id"), sender.get("name") or sender.get("id")
        if not isinstance(sender_id, str) or not isinstance(name, str):
            await self._error("invalid_frame", "'sender' needs an 'id'.")
            return
        is_direct = content.get("direct") is True
        longest = max(
            len(services.connector_room_external_id(held.id, each)) for each in (target, sender_id)
        )
        if longest > EXTERNAL_ID_MAX_CHARS or not target or not sender_id:
            # Refused for what it is: a frame that can never be stored must not come back.
            await self._error(
                "invalid_frame",
                f"'room' and 'sender.id' must be 1 to {EXTERNAL_ID_MAX_CHARS - 20} characters.",
                event_id=str(content.get("event_id")),
            )
            return
        identity = ConnectorIdentity(
            bot_slug=held.bot_slug,
            room_external_id=services.connector_room_external_id(held.id, target),
            participant_external_id=services.connector_room_external_id(held.id, sender_id.lower()),
            participant_name=name[:150],
            is_direct=is_direct,
        )
        try:
            inbound = held.type.parse(content, identity)
        except InvalidInbound as error:
            await self._error(error.code, error.detail, event_id=str(content.get("event_id")))
            return
        level = _role_trust(held.config, content.get("roles"))
        try:
            if (held.id, target) not in self.rooms or level:
                room = await database_sync_to_async(self._arrival_prepare)(
                    held, target, is_direct, identity, level
                )
                await self._room_follow(room.pk, held.id, target)
        except Exception as error:
            await self._failed(error, content)
            return
        # Taken in arrival order (the intake stores a room's messages one after another);
        # stored, acked and answered as soon as its batch is.
        store = asyncio.get_running_loop().create_task(self._store(inbound, content))
        self.stores.add(store)
        store.add_done_callback(self.stores.discard)

    def _arrival_prepare(
        self,
        held: _Held,
        target: str,
        is_direct: bool,
        identity: ConnectorIdentity,
        level: int,
    ) -> Room:
        """The room, created on first contact, and the trust the sender's roles give."""
        connector = Connector.objects.select_related("bot").get(pk=held.id)
        room = services.connector_room_open(connector=connector, target=target, is_direct=is_direct)
        if level and self.trusted.get((held.id, identity.participant_external_id), -1) < level:
            participant: Participant = participant_identify(
                bot=connector.bot,
                connector=held.kind,
                external_id=identity.participant_external_id,
                name=identity.participant_name,
            )
            services.participant_trust_raise(participant=participant, level=level)
            self.trusted[(held.id, identity.participant_external_id)] = level
        return room

    async def _store(self, inbound: Any, content: dict[str, Any]) -> None:
        try:
            receipt: MessageReceipt = await message_intake().receive(inbound)
        except Exception as error:
            await self._failed(error, content)
            return
        await self.send_json({"type": "ack", "event_id": content["event_id"]})
        await self._say(receipt.replies)
        if receipt.is_bot_working:
            await self._typing(receipt.message.room_id, is_typing=True)
        connector_id = content["connector"]
        now = time.monotonic()
        if now - self.seen_in.get(connector_id, -SEEN_IN_SECONDS) >= SEEN_IN_SECONDS:
            self.seen_in[connector_id] = now
            await database_sync_to_async(services.connector_seen_in)(connector_id)

    async def _failed(self, error: Exception, content: dict[str, Any]) -> None:
        """Not stored: no ack, so the bridge sends the frame again later."""
        if isinstance(error, BotNotFound):
            await self._error(error.code, error.detail, event_id=str(content.get("event_id")))
            return
        if is_database_outage(error):
            database_outage_log(error, "bridges")
        else:
            logger.exception("bridge %s: a message could not be stored", self.holder)
        await self._error(
            "not_stored", "Not stored; send it again.", event_id=str(content.get("event_id"))
        )

    async def _say(self, messages: list[OutboundMessage]) -> None:
        for message in messages:
            where = self.room_targets.get(message.room_id)
            if message.sender_kind != Message.SenderKind.BOT or where is None:
                continue
            connector_id, target = where
            held = self.held.get(connector_id)  # None: another bridge holds it now
            if held is None or message.id in self.said:
                continue
            self.said.add(message.id)
            frame = held.type.render(message)
            await self.send_json({**frame, "connector": connector_id, "room": target})

    async def _sent(self, content: dict[str, Any]) -> None:
        ids = content.get("ids")
        if not isinstance(ids, list) or not all(isinstance(each, int) for each in ids):
            await self._error("invalid_frame", "'ids' must be a list of message ids.")
            return
        # Marked in the background, many at a time: a database trip per message, awaited
        # here, held every frame behind it (BENCHMARKS.md, the bridge on IRC).
        self.relayed.update(ids)
        if self.marker is None or self.marker.done():
            self.marker = asyncio.get_running_loop().create_task(self._relayed_mark())

    async def _relayed_mark(self) -> None:
        while self.relayed:
            ids, self.relayed = sorted(self.relayed), set()
            try:
                await database_sync_to_async(services.relays_done)(
                    message_ids=ids, connector_ids=list(self.held)
                )
            except Exception as error:
                if not is_database_outage(error):
                    raise
                # Not marked: said again after a reconnect; the bridge skips what it sent.
                database_outage_log(error, "bridges")
                return
            self.said.difference_update(ids)

    async def _status(self, content: dict[str, Any]) -> None:
        reports = content.get("connectors")
        if not isinstance(reports, list):
            await self._error("invalid_frame", "'connectors' must be a list.")
            return
        await database_sync_to_async(self._status_record)(reports)
        await self._lease()
        await self._relay_catch_up()

    def _status_record(self, reports: list[Any]) -> None:
        for report in reports:
            if isinstance(report, dict) and report.get("id") in self.held:
                lag = report.get("lag_ms")
                services.connector_status_record(
                    holder=self.holder,
                    connector_id=report["id"],
                    status=str(report.get("state", "")),
                    detail=str(report.get("detail") or ""),
                    joined=[str(each) for each in report.get("joined") or []],
                    lag_ms=lag if isinstance(lag, int) and lag >= 0 else None,
                    cursor=report["cursor"] if isinstance(report.get("cursor"), str) else None,
                )

    async def _relay_catch_up(self) -> None:
        """What was stored for the networks and is not on them yet (while this bridge was
        away, or a push it missed): said again, oldest first."""
        if not self.held:
            return
        pending = await database_sync_to_async(services.relays_pending)(connector_ids=self.held)
        await self._say([_outbound(message) for message in pending])

    async def messages_created(self, event: dict[str, Any]) -> None:
        messages = [OutboundMessage(**message) for message in event["messages"]]
        await self._say(messages)
        if "is_typing" in event and messages:
            await self._typing(messages[0].room_id, is_typing=event["is_typing"] is True)

    async def connectors_changed(self, event: dict[str, Any]) -> None:
        await self._lease()
        await self._relay_catch_up()

    async def room_typing(self, event: dict[str, Any]) -> None:
        """The bot works on a room's queued calls: networks with typing notifications
        show it (the bridge's connection decides; IRC has none)."""
        room_id = event.get("room_id")
        if isinstance(room_id, int):
            await self._typing(room_id, is_typing=event.get("is_typing") is True)

    async def _typing(self, room_id: int, *, is_typing: bool) -> None:
        where = self.room_targets.get(room_id)
        if where is not None and where[0] in self.held:
            frame = {"connector": where[0], "room": where[1], "typing": is_typing}
            await self.send_json({"type": "typing", **frame})

    async def layer_lost(self, event: dict[str, Any]) -> None:
        """Pushes pause; the next status frame catches up from the database."""

    async def layer_restored(self, event: dict[str, Any]) -> None:
        await self._relay_catch_up()

    async def _error(self, code: str, detail: str, **extra: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail, **extra})


def _without_cursor(payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in spec.items() if key != "cursor"} for spec in payload]


def _role_trust(config: dict[str, Any], roles: Any) -> int:
    """The least trust the sender's network roles give, by the connector's configuration."""
    if not isinstance(roles, list):
        return 0
    levels = [config.get(f"{role}_trust") for role in roles if isinstance(role, str)]
    return max((level for level in levels if isinstance(level, int)), default=0)


def _outbound(message: Message) -> OutboundMessage:
    return OutboundMessage(
        id=message.pk,
        room_id=message.room_id,
        sender_kind=message.sender_kind,
        sender_name="",
        text=message.text,
        html=message.html,
        created_at=message.created_at.isoformat(),
    )
