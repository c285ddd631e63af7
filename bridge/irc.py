"""One IRC connection of the bridge: a bot's nick on a server, its channels, its private
messages; reconnected with backoff and jitter, sends paced under the server's flood limit."""

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pydle

from bridge.text import lines_fit

logger = logging.getLogger(__name__)

#: RFC 1459: 512 bytes a line with its CRLF. What the server puts in front when it relays
#: ours (":nick!user@host PRIVMSG target :") is counted with room for a long user and host.
LINE_BYTES = 510
HOSTMASK_ALLOWANCE = 10 + 63 + 4
#: Lines at once, then lines per second: under the usual servers' flood limits (ngircd
#: and Libera disconnect or stall a client that sends faster for long).
SEND_BURST = 4
SEND_PER_SECOND = 1.0
RECONNECT_FIRST_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 120.0


@dataclass
class Arrival:
    """A message from the network, as the bridge hands it to Botsite."""

    event_id: str
    target: str
    is_direct: bool
    sender: str
    roles: list[str]
    text: str
    is_addressed: bool


Deliver = Callable[[Arrival], Awaitable[None]]
Sent = Callable[[int], Awaitable[None]]


@dataclass
class _Say:
    message_id: int
    target: str
    lines: list[str]


@dataclass
class IrcState:
    state: str = "connecting"
    detail: str = ""
    joined: list[str] = field(default_factory=list)
    lag_ms: int | None = None


class _Client(pydle.Client):  # type: ignore[misc]
    # The connection reconnects itself with backoff and jitter (`IrcConnection._run`).
    RECONNECT_ON_ERROR = False

    def __init__(self, owner: "IrcConnection", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.owner = owner

    async def on_connect(self) -> None:
        await super().on_connect()
        await self.owner.connected()

    async def on_disconnect(self, expected: bool) -> None:
        await super().on_disconnect(expected)
        self.owner.disconnected(expected)

    async def on_message(self, target: str, by: str, message: str) -> None:
        await super().on_message(target, by, message)
        if by == self.nickname:
            return
        await self.owner.arrived(target, by, message)

    async def on_ctcp_version(self, by: str, target: str, contents: str) -> None:
        await self.ctcp_reply(by, "VERSION", "Botsite bridge")

    async def on_ctcp_ping(self, by: str, target: str, contents: str) -> None:
        await self.ctcp_reply(by, "PING", contents)

    async def on_raw_pong(self, message: Any) -> None:
        await super().on_raw_pong(message)
        self.owner.ponged()


class IrcConnection:
    """Keeps one connector's nick on its server until stopped."""

    def __init__(
        self,
        connector_id: int,
        config: dict[str, Any],
        secret: str,
        *,
        deliver: Deliver,
        sent: Sent,
        local_answer: Callable[[str], str | None],
    ) -> None:
        self.connector_id, self.config, self.secret = connector_id, config, secret
        self.deliver, self.sent, self.local_answer = deliver, sent, local_answer
        self.status = IrcState()
        self.queue: asyncio.Queue[_Say] = asyncio.Queue()
        self.client: _Client | None = None
        self.is_ready = asyncio.Event()
        self.pinged_at: float | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.counter = 0
        #: Ids of messages queued here and not all out yet: lost if this connection stops.
        self.unsent: set[int] = set()
        self.nonce = secrets.token_hex(8)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._run()), loop.create_task(self._send_paced())]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.client is not None and self.client.connected:
            with contextlib.suppress(Exception):  # leaving anyway
                await self.client.quit("Botsite bridge stopping")

    def say(self, message_id: int, target: str, lines: list[str]) -> None:
        self.unsent.add(message_id)
        self.queue.put_nowait(_Say(message_id, target, lines))

    # The connection.

    def _client_make(self) -> _Client:
        nick, auth = self.config["nick"], self.config.get("auth", "none")
        kwargs: dict[str, Any] = {
            "nickname": nick,
            "fallback_nicknames": [f"{nick}_", f"{nick}__"],
            "username": nick.lower()[:10],
            "realname": "Botsite",
        }
        if auth == "sasl" and self.secret:
            kwargs |= {"sasl_username": nick, "sasl_password": self.secret}
        return _Client(self, **kwargs)

    async def _run(self) -> None:
        delay = RECONNECT_FIRST_SECONDS
        while True:
            self.is_ready.clear()
            self.status = IrcState(state="connecting")
            self.client = self._client_make()
            closed = asyncio.get_running_loop().create_future()
            self._closed = closed
            try:
                await self.client.connect(
                    self.config["host"],
                    int(self.config.get("port") or 6667),
                    tls=bool(self.config.get("tls")),
                    tls_verify=bool(self.config.get("tls")),
                    password=self.secret if self.config.get("auth") == "server" else None,
                )
                await closed
                delay = RECONNECT_FIRST_SECONDS
            except (TimeoutError, OSError, pydle.Error) as error:
                self.status = IrcState(state="failing", detail=str(error) or type(error).__name__)
                logger.warning("irc %s: %s", self.connector_id, self.status.detail)
            # Jitter: bridges that lost a server together do not come back in one wave.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
            delay = min(RECONNECT_MAX_SECONDS, delay * 2)

    async def connected(self) -> None:
        assert self.client is not None  # noqa: S101
        if self.config.get("auth") == "nickserv" and self.secret:
            await self.client.message("NickServ", f"IDENTIFY {self.secret}")
        for channel in self.config.get("channels", []):
            await self.client.join(channel)
        self.status = IrcState(state="connected", joined=list(self.config.get("channels", [])))
        self.is_ready.set()

    def disconnected(self, expected: bool) -> None:
        self.is_ready.clear()
        if not expected:
            self.status = IrcState(state="failing", detail="disconnected by the server")
        closed = getattr(self, "_closed", None)
        if closed is not None and not closed.done():
            closed.set_result(None)

    def ponged(self) -> None:
        if self.pinged_at is not None:
            self.status.lag_ms = int((time.monotonic() - self.pinged_at) * 1000)
            self.pinged_at = None

    async def lag_measure(self) -> None:
        """A PING to the server; its PONG sets the lag the status reports."""
        if self.client is not None and self.is_ready.is_set():
            self.pinged_at = time.monotonic()
            await self.client.rawmsg("PING", "botsite-lag")

    async def arrived(self, target: str, by: str, text: str) -> None:
        assert self.client is not None  # noqa: S101
        is_direct = not self.client.is_channel(target)
        where = by if is_direct else target
        addressed, text = _nick_stripped(text, self.client.nickname)
        answer = self.local_answer(text)
        if answer is not None:
            self.say(0, where, [answer])
            return
        roles = []
        if not is_direct and target in self.client.channels:
            modes = self.client.channels[target].get("modes", {})
            roles = [
                role for role, mode in (("op", "o"), ("voice", "v")) if by in modes.get(mode, [])
            ]
        self.counter += 1
        await self.deliver(
            Arrival(
                # Unique per connection object and line: a frame sent again is the same
                # event, and a restarted bridge never reuses one.
                event_id=f"{self.nonce}-{self.counter}",
                target=where,
                is_direct=is_direct,
                sender=by,
                roles=roles,
                text=text,
                is_addressed=addressed,
            )
        )

    async def _send_paced(self) -> None:
        """Each message's lines in order, paced; a message cut by a lost connection goes on
        from its first unsent line once connected again."""
        burst = int(self.config.get("burst") or SEND_BURST)
        per_second = float(self.config.get("lines_per_second") or SEND_PER_SECOND)
        tokens, at = float(burst), time.monotonic()
        say: _Say | None = None
        lines: list[str] = []
        while True:
            if say is None:
                say = await self.queue.get()
                lines = []
            await self.is_ready.wait()
            client = self.client
            if client is None:
                continue
            if not lines:
                room = LINE_BYTES - HOSTMASK_ALLOWANCE
                room -= len(f":{client.nickname}! PRIVMSG {say.target} :".encode())
                lines = lines_fit("\n".join(say.lines), max_bytes=room)
            try:
                while lines:
                    now = time.monotonic()
                    tokens = min(burst, tokens + (now - at) * per_second)
                    at = now
                    if tokens < 1:
                        await asyncio.sleep((1 - tokens) / per_second)
                        tokens, at = 1.0, time.monotonic()
                    tokens -= 1
                    await client.rawmsg("PRIVMSG", say.target, lines[0])
                    lines.pop(0)
            except (TimeoutError, OSError, AttributeError) as error:
                # AttributeError: pydle drops its connection object when the socket goes.
                logger.info(
                    "irc %s: sending waits for the connection: %s", self.connector_id, error
                )
                self.is_ready.clear()
                continue
            self.unsent.discard(say.message_id)
            if say.message_id:
                await self.sent(say.message_id)
            say = None


def _nick_stripped(text: str, nick: str) -> tuple[bool, str]:
    """("botsite: hi", "botsite") → (True, "hi"): the bot's nick first, then : , or space."""
    lowered, prefix = text.lower(), nick.lower()
    if lowered.startswith(prefix) and lowered[len(prefix) : len(prefix) + 1] in (":", ",", " "):
        return True, text[len(prefix) + 1 :].strip()
    return False, text
