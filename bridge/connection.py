"""What every network connection of the bridge is: kept up with backoff and jitter, fed
`Say`s in order, paced under its network's limit, reporting its state.

A network subclasses `Connection`: `_session` connects and returns when the connection is
gone; `_pieces` cuts a message into what the network sends at once; `_piece_send` sends
one. Everything else (reconnects, pacing, resuming a message cut by a lost connection,
what is unsent when the connection stops) is here once.
"""

import asyncio
import contextlib
import logging
import random
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

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
    sender_name: str = ""


@dataclass
class Say:
    """A bot message for one room: its lines, and its HTML where the network shows it."""

    message_id: int
    target: str
    lines: list[str]
    html: str = ""


@dataclass
class ConnectionState:
    state: str = "connecting"
    detail: str = ""
    joined: list[str] = field(default_factory=list)
    lag_ms: int | None = None


Deliver = Callable[[Arrival], Awaitable[None]]
Sent = Callable[[int], Awaitable[None]]
LocalAnswer = Callable[[str], str | None]


class ConnectionLost(Exception):
    """Sending failed because the connection went: the piece is sent again once back."""


class Connection(ABC):
    """Keeps one connector's presence on its network until stopped."""

    kind: ClassVar[str]
    #: Pieces at once, then pieces per second (config `burst`, `lines_per_second` win).
    SEND_BURST: ClassVar[int] = 4
    SEND_PER_SECOND: ClassVar[float] = 1.0

    def __init__(
        self,
        connector_id: int,
        config: dict[str, Any],
        secret: str,
        *,
        deliver: Deliver,
        sent: Sent,
        local_answer: LocalAnswer,
        cursor: str = "",
    ) -> None:
        self.connector_id, self.config, self.secret = connector_id, config, secret
        self.deliver, self.sent, self.local_answer = deliver, sent, local_answer
        #: Where the network's history resumes (networks that keep one, e.g. a Matrix sync
        #: token); stored by Botsite from the status reports, handed back on a restart.
        self.cursor = cursor
        self.status = ConnectionState()
        self.queue: asyncio.Queue[Say] = asyncio.Queue()
        self.is_ready = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        #: Ids of messages queued here and not all out yet: lost if this connection stops.
        self.unsent: set[int] = set()
        self.nonce = secrets.token_hex(8)
        self.counter = 0

    # Lifetime.

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._run()), loop.create_task(self._send_paced())]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        with contextlib.suppress(Exception):  # leaving anyway
            await self._close()

    async def probe(self, *, timeout: float) -> ConnectionState:
        """Connect once, as `_session` does, and leave as soon as the network accepted the
        bot (or refused it): the "test connection" of the admin and the API. Nothing is
        sent or delivered."""
        session = asyncio.get_running_loop().create_task(self._session())
        ready = asyncio.get_running_loop().create_task(self.is_ready.wait())
        try:
            done, _ = await asyncio.wait(
                {session, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready in done:
                return ConnectionState(state="connected", joined=list(self.status.joined))
            if session in done:
                error = session.exception()
                if error is not None:
                    return ConnectionState(state="failing", detail=described(error))
                return ConnectionState(state="failing", detail=self.status.detail or "refused")
            return ConnectionState(state="failing", detail=f"no answer within {timeout:g} s")
        finally:
            ready.cancel()
            with contextlib.suppress(Exception):  # leaving anyway
                await asyncio.wait_for(self._close(), timeout=5)
            session.cancel()
            await asyncio.gather(session, return_exceptions=True)

    def say(self, say: Say) -> None:
        self.unsent.add(say.message_id)
        self.queue.put_nowait(say)

    def event_id_next(self) -> str:
        """Unique per connection object and event, for networks whose events have no id
        of their own: a frame sent again is the same event, a restarted bridge never
        reuses one."""
        self.counter += 1
        return f"{self.nonce}-{self.counter}"

    def acked(self, event_id: str) -> None:
        """Botsite stored the event (networks with a cursor advance it from here)."""
        return None

    async def typing(self, target: str, is_typing: bool) -> None:
        """The bot is (no longer) working on a room's queued calls; shown where the
        network has typing notifications."""
        return None

    async def lag_measure(self) -> None:
        """Measure the round trip to the server into `status.lag_ms`, where it can be."""
        return None

    # What a network implements.

    @abstractmethod
    async def _session(self) -> None:
        """Connect, set `status` and `is_ready`, and return when the connection is gone
        (raise `TimeoutError`, `OSError` or `ConnectionLost` when it could not be made)."""

    async def _close(self) -> None:
        """Leave the network politely (the tasks are cancelled already)."""
        return None

    @abstractmethod
    def _pieces(self, say: Say) -> list[Any]:
        """What `say` is sent as, one piece at a time, each under the network's limit."""

    @abstractmethod
    async def _piece_send(self, say: Say, piece: Any) -> None:
        """Send one piece; raise `ConnectionLost` when the connection went."""

    # Here once for every network.

    async def _run(self) -> None:
        delay = RECONNECT_FIRST_SECONDS
        while True:
            self.is_ready.clear()
            # The last error stays on show while retrying: it is what staff need to see.
            self.status = ConnectionState(state="connecting", detail=self.status.detail)
            try:
                await self._session()
                delay = RECONNECT_FIRST_SECONDS
            except (TimeoutError, OSError, ConnectionLost) as error:
                self.status = ConnectionState(state="failing", detail=described(error))
                logger.warning("%s %s: %s", self.kind, self.connector_id, self.status.detail)
            self.is_ready.clear()
            if self.status.state != "failing":
                self.status = ConnectionState(state="failing", detail="disconnected")
            # Jitter: bridges that lost a server together do not come back in one wave.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
            delay = min(RECONNECT_MAX_SECONDS, delay * 2)

    async def _send_paced(self) -> None:
        """Each message's pieces in order, paced; a message cut by a lost connection goes
        on from its first unsent piece once connected again."""
        burst = int(self.config.get("burst") or self.SEND_BURST)
        per_second = float(self.config.get("lines_per_second") or self.SEND_PER_SECOND)
        tokens, at = float(burst), time.monotonic()
        say: Say | None = None
        pieces: list[Any] = []
        while True:
            if say is None:
                say = await self.queue.get()
                pieces = self._pieces(say)
            await self.is_ready.wait()
            try:
                while pieces:
                    now = time.monotonic()
                    tokens = min(burst, tokens + (now - at) * per_second)
                    at = now
                    if tokens < 1:
                        await asyncio.sleep((1 - tokens) / per_second)
                        tokens, at = 1.0, time.monotonic()
                    tokens -= 1
                    await self._piece_send(say, pieces[0])
                    pieces.pop(0)
            except (TimeoutError, OSError, ConnectionLost) as error:
                logger.info(
                    "%s %s: sending waits for the connection: %s",
                    self.kind,
                    self.connector_id,
                    error,
                )
                self.is_ready.clear()
                continue
            except Exception:
                # A piece the network library refuses would stop this connection's sending
                # for good if the loop ended here: it is logged and left out instead.
                logger.exception(
                    "%s %s: a piece of message %s could not be sent; left out",
                    self.kind,
                    self.connector_id,
                    say.message_id,
                )
                pieces.pop(0)
                continue
            self.unsent.discard(say.message_id)
            if say.message_id:
                await self.sent(say.message_id)
            say = None


def described(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    return str(error) or type(error).__name__


def addressed_stripped(text: str, name: str) -> tuple[bool, str]:
    """("botsite: hi", "botsite") → (True, "hi"): the bot's name first, then `:`, `,` or a
    space; "@botsite hi" too."""
    lowered, prefix = text.lower().lstrip("@"), name.lower()
    offset = len(text) - len(text.lstrip("@"))
    if lowered.startswith(prefix) and lowered[len(prefix) : len(prefix) + 1] in (":", ",", " "):
        return True, text[offset + len(prefix) + 1 :].strip()
    return False, text
