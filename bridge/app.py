"""The bridge's main loop: one WebSocket to Botsite, one connection per connector it holds.

Botsite tells the bridge which connectors to hold (`connectors`); messages from the
networks go to Botsite as `inbound` frames, kept until acked and sent again after a
reconnect (Botsite stores each event once); Botsite's `say` frames go out on the networks
and are confirmed with `sent`. While Botsite is unreachable the connections stay up, what
arrives waits, and a status command is answered here.
"""

import asyncio
import json
import logging
import os
import random
import secrets
import socket
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import websockets

from bridge.connection import Arrival, Connection, Say
from bridge.networks import connection_types

logger = logging.getLogger("bridge")

STATUS_SECONDS = 5.0
#: An inbound frame not acked this long (Botsite could not store it) is sent again.
RESEND_SECONDS = 10.0
#: Frames kept while Botsite is away; past this the oldest go (logged).
OUTBOX_MAX = 10_000
#: Message ids said recently: Botsite says again what it has no `sent` for yet (after a
#: reconnect), and a message still queued or just sent must not go out twice.
RECENT_SAYS_MAX = 10_000
LINK_RETRY_MAX_SECONDS = 30.0
CLOSE_UNAUTHORIZED = 4401


class Bridge:
    def __init__(self, *, url: str, token: str, name: str | None = None) -> None:
        self.url = url.rstrip("/") + "/ws/bridge/"
        self.token = token
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.outbox: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self.sent_ids: list[int] = []
        self.recent_says: OrderedDict[int, None] = OrderedDict()
        self.connections: dict[int, Connection] = {}
        self.specs: dict[int, dict[str, Any]] = {}
        self.ws: Any = None
        self.offline_since: datetime | None = datetime.now(UTC)

    async def run(self) -> None:
        status = asyncio.get_running_loop().create_task(self._status_loop())
        try:
            await self._link_forever()
        finally:
            status.cancel()
            for connection in self.connections.values():
                await connection.stop()

    async def _link_forever(self) -> None:
        delay = 1.0
        while True:
            try:
                async with websockets.connect(
                    self.url, open_timeout=10, ping_interval=20, ping_timeout=20
                ) as ws:
                    await ws.send(
                        json.dumps({"type": "hello", "token": self.token, "bridge": self.name})
                    )
                    self.ws, self.offline_since, delay = ws, None, 1.0
                    logger.info("bridge %s: linked to %s", self.name, self.url)
                    for _, frame in list(self.outbox.values()):
                        await ws.send(json.dumps(frame))
                    await self._sent_flush()
                    async for raw in ws:
                        await self._frame(json.loads(raw))
                    if ws.close_code == CLOSE_UNAUTHORIZED:
                        logger.error("bridge %s: Botsite refused the bridge token", self.name)
                        delay = LINK_RETRY_MAX_SECONDS
            except (TimeoutError, OSError, websockets.WebSocketException) as error:
                logger.warning("bridge %s: Botsite unreachable: %s", self.name, error)
            finally:
                self.ws = None
                self.offline_since = self.offline_since or datetime.now(UTC)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
            delay = min(LINK_RETRY_MAX_SECONDS, delay * 2)

    async def _frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "connectors":
            await self._connectors_hold(frame["connectors"])
        elif kind == "ack":
            event_id = frame.get("event_id", "")
            acked = self.outbox.pop(event_id, None)
            if acked is not None and acked[1]["connector"] in self.connections:
                self.connections[acked[1]["connector"]].acked(event_id)
        elif kind == "say":
            connection = self.connections.get(frame.get("connector"))  # type: ignore[arg-type]
            if connection is not None and frame["id"] not in self.recent_says:
                self.recent_says[frame["id"]] = None
                while len(self.recent_says) > RECENT_SAYS_MAX:
                    self.recent_says.popitem(last=False)
                connection.say(
                    Say(frame["id"], frame["room"], frame["lines"], frame.get("html") or "")
                )
        elif kind == "typing":
            connection = self.connections.get(frame.get("connector"))  # type: ignore[arg-type]
            if connection is not None:
                await connection.typing(str(frame.get("room")), frame.get("typing") is True)
        elif kind == "error":
            event_id = frame.get("event_id")
            logger.warning(
                "bridge %s: Botsite says %s: %s", self.name, frame.get("code"), frame.get("detail")
            )
            # Refused for what it is (not for a passing fault): sending it again won't help.
            if event_id and frame.get("code") != "not_stored":
                self.outbox.pop(event_id, None)

    async def _connectors_hold(self, specs: list[dict[str, Any]]) -> None:
        wanted = {spec["id"]: spec for spec in specs}
        for connector_id in list(self.connections):
            # The cursor is where a connection resumes, not what it is: it changes as it goes.
            if _without_cursor(self.specs.get(connector_id)) != _without_cursor(
                wanted.get(connector_id)
            ):
                stopped = self.connections.pop(connector_id)
                await stopped.stop()
                self.specs.pop(connector_id, None)
                # Not sent: Botsite says them again, and they must not be taken for repeats.
                for message_id in stopped.unsent:
                    self.recent_says.pop(message_id, None)
        for connector_id, spec in wanted.items():
            if connector_id in self.connections or spec["kind"] not in connection_types:
                continue
            connection = self._connection_make(connector_id, spec)
            self.connections[connector_id], self.specs[connector_id] = connection, spec
            connection.start()
            logger.info("bridge %s: holding connector %s", self.name, connector_id)

    def _connection_make(self, connector_id: int, spec: dict[str, Any]) -> Connection:
        prefix = spec.get("command_prefix") or "!"

        async def deliver(arrival: Arrival) -> None:
            await self._deliver(connector_id, arrival)

        return connection_types[spec["kind"]](
            connector_id,
            spec["config"],
            spec.get("secret") or "",
            deliver=deliver,
            sent=self._sent,
            local_answer=lambda text: self._local_answer(prefix, text),
            cursor=spec.get("cursor") or "",
        )

    async def _deliver(self, connector_id: int, arrival: Arrival) -> None:
        frame = {
            "type": "inbound",
            "connector": connector_id,
            "event_id": arrival.event_id,
            "room": arrival.target,
            "direct": arrival.is_direct,
            "sender": {"id": arrival.sender, "name": arrival.sender_name or arrival.sender},
            "roles": arrival.roles,
            "text": arrival.text,
            "addressed": arrival.is_addressed,
        }
        self.outbox[arrival.event_id] = (time.monotonic(), frame)
        while len(self.outbox) > OUTBOX_MAX:
            dropped, _ = self.outbox.popitem(last=False)
            logger.error("bridge %s: outbox full, message %s dropped", self.name, dropped)
        await self._send(frame)

    def _local_answer(self, prefix: str, text: str) -> str | None:
        """While Botsite is unreachable, the status command is answered here."""
        if self.offline_since is None or text.strip().lower() != f"{prefix}status":
            return None
        since = self.offline_since.strftime("%H:%M UTC")
        return (
            f"Botsite is unreachable since {since}; the bridge keeps retrying. "
            f"{len(self.outbox)} message(s) wait and will be answered when it is back."
        )

    async def _sent(self, message_id: int) -> None:
        self.sent_ids.append(message_id)
        await self._sent_flush()

    async def _sent_flush(self) -> None:
        if self.sent_ids and await self._send({"type": "sent", "ids": list(self.sent_ids)}):
            self.sent_ids.clear()

    async def _send(self, frame: dict[str, Any]) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(frame))
        except websockets.WebSocketException:
            return False
        return True

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(STATUS_SECONDS)
            for connection in self.connections.values():
                try:
                    await connection.lag_measure()
                except Exception:  # noqa: S112 (a connection going away; its status says so)
                    continue
            reports = [
                {
                    "id": connector_id,
                    "state": connection.status.state,
                    "detail": connection.status.detail,
                    "joined": connection.status.joined,
                    "lag_ms": connection.status.lag_ms,
                    "cursor": connection.cursor,
                }
                for connector_id, connection in self.connections.items()
            ]
            await self._send({"type": "status", "connectors": reports})
            await self._sent_flush()
            stale = time.monotonic() - RESEND_SECONDS
            for event_id, (at, frame) in list(self.outbox.items()):
                if at < stale and await self._send(frame):
                    self.outbox[event_id] = (time.monotonic(), frame)


def _without_cursor(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if spec is None else {key: value for key, value in spec.items() if key != "cursor"}
