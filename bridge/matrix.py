"""Matrix connections of the bridge: a bot's account on a homeserver (matrix-nio's client,
the client-server API, no end-to-end encryption), its rooms and the direct chats people
invite it to.

What arrives comes from `/sync`. Its token is the connection's cursor: Botsite keeps it
and hands it back on a restart, so a bridge that died goes on where it left off. The
cursor moves to a sync response's `next_batch` only once Botsite acked every message of
that response and of those before it: no message is lost (up to `RESUME_TIMELINE_LIMIT` a
room while the bridge is away), and one handed over twice is stored once (its Matrix event
id is the `event_id`).
"""

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    JoinError,
    LoginError,
    MatrixRoom,
    RoomCreateEvent,
    RoomMessageText,
    RoomResolveAliasError,
    RoomSendError,
    SyncError,
    SyncResponse,
    WhoamiError,
)

from bridge.connection import (
    RECONNECT_FIRST_SECONDS,
    RECONNECT_MAX_SECONDS,
    Arrival,
    Connection,
    ConnectionLost,
    ConnectionState,
    Say,
    addressed_stripped,
)
from bridge.text import lines_fit

logger = logging.getLogger(__name__)

#: How long the homeserver may hold a `/sync` open when nothing happens.
SYNC_WAIT_MS = 30_000
#: A sync that hands over state or history, or any other request, answers within this.
REQUEST_SECONDS = 60.0
#: Messages per room a resumed sync hands over; a bridge away longer than that many
#: messages in a room loses the older ones (the homeserver says the timeline was limited).
RESUME_TIMELINE_LIMIT = 100
#: An event may hold 65,536 bytes with its envelope; a longer message goes in pieces.
MESSAGE_BYTES = 32_000
#: How long a typing notification lasts unless renewed or taken back.
TYPING_MS = 30_000
#: Power levels that make a room's admins and moderators (the spec's defaults).
ADMIN_LEVEL, MODERATOR_LEVEL = 100, 50
#: From this room version on, a room's creators outrank everyone and are not in its power
#: levels (https://spec.matrix.org/latest/rooms/v12/).
PRIVILEGED_CREATORS_VERSION = 12
#: Matrix's answer to an access token it does not know (logged out, or expired).
UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"  # noqa: S105 (an error code, not a secret)

#: Only what the bot reads: no presence, account data, typing or receipts.
SYNC_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "account_data": {"not_types": ["*"]},
        "ephemeral": {"not_types": ["*"]},
        "timeline": {"limit": RESUME_TIMELINE_LIMIT},
    },
}
#: The first sync of a connector never started before: the rooms' state, not their past.
FIRST_SYNC_FILTER: dict[str, Any] = {
    **SYNC_FILTER,
    "room": {**SYNC_FILTER["room"], "timeline": {"limit": 1}},
}


@dataclass
class _Batch:
    """One sync response: where the next one starts, and its messages Botsite has not
    acked yet."""

    next_batch: str
    unacked: set[str] = field(default_factory=set)
    is_handled: bool = False


class MatrixConnection(Connection):
    """One connector's account on one Matrix homeserver."""

    kind = "matrix"
    #: A short burst, then a message a second; a homeserver's own limit is waited out (its
    #: 429 says how long).
    SEND_BURST = 10
    SEND_PER_SECOND = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: AsyncClient | None = None
        #: Kept in memory only, for the life of this object: reconnects skip the login.
        self.access_token = ""
        self.user_id: str = self.config["user_id"]
        #: Room ids of the configured rooms, by the name staff gave (an alias or the id),
        #: and back: Botsite knows a configured room by that name.
        self.room_ids: dict[str, str] = {}
        self.room_names: dict[str, str] = {}
        self.batches: list[_Batch] = []
        #: Creators of rooms whose versions make them outrank everyone, by room id.
        self.creators: dict[str, set[str]] = {}
        self.typing_wanted: dict[str, bool] = {}
        self.typing_changed = asyncio.Event()

    def start(self) -> None:
        super().start()
        self.tasks.append(asyncio.get_running_loop().create_task(self._typing_send()))

    # The connection.

    def _client_make(self) -> AsyncClient:
        config = AsyncClientConfig(
            # A lost connection ends the session (`Connection._run` reconnects with backoff);
            # 429s are waited out for as long as the homeserver says, and tried again.
            max_timeouts=0,
            request_timeout=REQUEST_SECONDS,
            store_sync_tokens=False,
            encryption_enabled=False,
        )
        # One device per connector, kept across logins and restarts: the homeserver's
        # transaction ids are per device, so a message sent again is recognised.
        return AsyncClient(
            self.config["homeserver"],
            self.user_id,
            device_id=f"BOTSITE{self.connector_id}",
            config=config,
        )

    async def _session(self) -> None:
        self.client = client = self._client_make()
        try:
            await self._login(client)
            # Joined first: what arrived in a configured room while away is known by the
            # room's name there (its alias, say), as Botsite knows the room.
            problems = await self._rooms_join(client)
            # Resuming: the rooms' whole state (who is there, their power levels) and what
            # came after the cursor; the first time: the state only, and no history.
            first = await self._sync(client, since=self.cursor, full_state=True)
            self.batches = []
            if self.cursor:
                self._gaps_log(first)
            await self._handled(client, first, history=bool(self.cursor))
            self.status = ConnectionState(
                state="connected", detail=problems, joined=self._joined(client)
            )
            self.is_ready.set()
            while True:
                response = await self._sync(client, since=client.next_batch, full_state=False)
                await self._handled(client, response, history=True)
                self.status.joined = self._joined(client)
        except aiohttp.ClientError as error:
            raise ConnectionLost(f"homeserver unreachable: {error}") from error
        finally:
            self.is_ready.clear()
            await client.close()

    def _gaps_log(self, response: SyncResponse) -> None:
        """A room with more new messages than a resumed sync hands over: the older ones are
        lost (rooms newly joined come "limited" too, so only a resume is judged)."""
        for room_id, info in response.rooms.join.items():
            if info.timeline.limited:
                logger.warning(
                    "matrix %s: more than %d messages in %s while away; the older ones are skipped",
                    self.connector_id,
                    RESUME_TIMELINE_LIMIT,
                    room_id,
                )

    async def _login(self, client: AsyncClient) -> None:
        if self.access_token:
            client.restore_login(self.user_id, client.device_id, self.access_token)
            answer = await client.whoami()
            if not isinstance(answer, WhoamiError):
                return
            if answer.status_code != UNKNOWN_TOKEN:
                raise ConnectionLost(f"homeserver refused: {_described(answer)}")
            self.access_token = ""
        answer = await client.login(password=self.secret, device_name="Botsite bridge")
        if isinstance(answer, LoginError):
            raise ConnectionLost(f"login refused: {_described(answer)}")
        self.access_token = answer.access_token

    async def _sync(self, client: AsyncClient, *, since: str, full_state: bool) -> SyncResponse:
        has_cursor = bool(since)
        answer = await asyncio.wait_for(
            client.sync(
                timeout=0 if full_state else SYNC_WAIT_MS,
                sync_filter=SYNC_FILTER if has_cursor else FIRST_SYNC_FILTER,
                since=since or None,
                full_state=full_state,
            ),
            timeout=REQUEST_SECONDS + SYNC_WAIT_MS / 1000,
        )
        if isinstance(answer, SyncError):
            if answer.status_code == UNKNOWN_TOKEN:
                self.access_token = ""
            raise ConnectionLost(f"sync refused: {_described(answer)}")
        return answer

    async def _close(self) -> None:
        # No logout: that would end the device, and with it the transaction ids.
        if self.client is not None:
            await self.client.close()

    async def _rooms_join(self, client: AsyncClient) -> str:
        """Join the configured rooms; what went wrong, for the status ("" if nothing)."""
        problems = []
        for name in self.config.get("rooms", []):
            answer = await client.join(name)
            if isinstance(answer, JoinError):
                problems.append(f"{name} not joined: {_described(answer)}")
                continue
            self.room_ids[name], self.room_names[answer.room_id] = answer.room_id, name
        if problems:
            logger.warning("matrix %s: %s", self.connector_id, "; ".join(problems))
        return "; ".join(problems)

    def _joined(self, client: AsyncClient) -> list[str]:
        return sorted(self.room_names.get(room_id, room_id) for room_id in client.rooms)

    # What arrives.

    async def _handled(self, client: AsyncClient, response: SyncResponse, *, history: bool) -> None:
        """Hand a sync response's messages to Botsite (unless `history` is off: the first
        start skips what was said before), accept invitations, and move the cursor on."""
        batch = _Batch(response.next_batch)
        self.batches.append(batch)
        if self.config.get("auto_join", True):
            for room_id in response.rooms.invite:
                answer = await client.join(room_id)
                if isinstance(answer, JoinError):
                    logger.warning(
                        "matrix %s: invitation to %s not accepted: %s",
                        self.connector_id,
                        room_id,
                        _described(answer),
                    )
        for room_id, info in response.rooms.join.items():
            self._creators_note(room_id, [*info.state, *info.timeline.events])
            room = client.rooms.get(room_id)
            if room is None or not history:
                continue
            for event in info.timeline.events:
                # Only text: notices are other bots' (answering them makes loops).
                if isinstance(event, RoomMessageText) and event.sender != client.user_id:
                    await self._arrived(client, room, event, batch)
        batch.is_handled = True
        self._cursor_advance()

    async def _arrived(
        self, client: AsyncClient, room: MatrixRoom, event: RoomMessageText, batch: _Batch
    ) -> None:
        is_direct = room.room_id not in self.room_names and room.member_count == 2
        target = self.room_names.get(room.room_id, room.room_id)
        addressed, text = self._addressed_stripped(room, event.body)
        answer = self.local_answer(text)
        if answer is not None:
            self.say(Say(0, target, [answer]))
            return
        # Counted before it is handed over: its ack may come back before `deliver` returns.
        batch.unacked.add(event.event_id)
        await self.deliver(
            Arrival(
                event_id=event.event_id,
                target=target,
                is_direct=is_direct,
                sender=event.sender,
                sender_name=room.user_name(event.sender) or event.sender,
                roles=[] if is_direct else self._roles(room, event.sender),
                text=text,
                is_addressed=addressed,
            )
        )

    def _creators_note(self, room_id: str, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, RoomCreateEvent) and _has_privileged_creators(event.room_version):
                more = event.source.get("content", {}).get("additional_creators", [])
                self.creators[room_id] = {event.sender, *(str(each) for each in more)}

    def _roles(self, room: MatrixRoom, user_id: str) -> list[str]:
        """The roles a power level gives; an admin is a moderator too (the larger trust of
        the two wins)."""
        if user_id in self.creators.get(room.room_id, ()):
            return ["admin", "moderator"]
        level = room.power_levels.get_user_level(user_id)
        return [
            role
            for role, least in (("admin", ADMIN_LEVEL), ("moderator", MODERATOR_LEVEL))
            if level >= least
        ]

    def _addressed_stripped(self, room: MatrixRoom, text: str) -> tuple[bool, str]:
        """Addressed by the user id, the display name (what a mention puts first) or the
        localpart; the longest first, so "@bot:server: hi" loses all of its name."""
        localpart = self.user_id.removeprefix("@").split(":", 1)[0]
        own = room.users.get(self.user_id)
        names = [self.user_id.removeprefix("@"), own.display_name if own else "", localpart]
        for name in names:
            if name:
                addressed, stripped = addressed_stripped(text, name)
                if addressed:
                    return True, stripped
        return False, text

    def acked(self, event_id: str) -> None:
        for batch in self.batches:
            batch.unacked.discard(event_id)
        self._cursor_advance()

    def _cursor_advance(self) -> None:
        """To the last response handled whose messages, and all before, Botsite acked."""
        while self.batches and self.batches[0].is_handled and not self.batches[0].unacked:
            self.cursor = self.batches.pop(0).next_batch

    # Sending.

    def _pieces(self, say: Say) -> list[tuple[str, str, str]]:
        """(transaction id, body, HTML): one message, or plain pieces if it is too long."""
        body = "\n".join(say.lines)
        if len(body.encode()) + len(say.html.encode()) <= MESSAGE_BYTES:
            texts, html = [body], say.html
        else:
            texts, html = _packed(lines_fit(body, max_bytes=MESSAGE_BYTES)), ""
        # Derived from the message, so the homeserver takes a message sent again after a
        # reconnect or a restart for the one it has (for as long as it remembers).
        stem = f"botsite-{say.message_id}" if say.message_id else f"local-{uuid.uuid4().hex}"
        return [(f"{stem}-{index}", text, html) for index, text in enumerate(texts)]

    async def _piece_send(self, say: Say, piece: tuple[str, str, str]) -> None:
        """Send one event; a passing failure (the homeserver unreachable or failing) is
        tried again with backoff until it goes: the sync, not sending, notices a lost
        connection and reconnects meanwhile."""
        delay = RECONNECT_FIRST_SECONDS
        while not await self._event_sent(say, piece):
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
            delay = min(RECONNECT_MAX_SECONDS, delay * 2)

    async def _event_sent(self, say: Say, piece: tuple[str, str, str]) -> bool:
        """Whether the piece is done with: sent, or refused for good (logged)."""
        await self.is_ready.wait()
        client = self.client
        if client is None:
            return False
        transaction_id, body, html = piece
        content: dict[str, Any] = {"msgtype": "m.notice", "body": body}
        if html:
            content |= {"format": "org.matrix.custom.html", "formatted_body": html}
        try:
            room_id = await self._room_id(client, say.target)
            room = client.rooms.get(room_id) if room_id else None
            if room_id is None or (room is not None and room.encrypted):
                # Without end-to-end encryption the bot would write in clear in such a room.
                refusal = "no such room" if room_id is None else "the room is encrypted"
                logger.warning(
                    "matrix %s: message %s not sent to %s: %s",
                    self.connector_id,
                    say.message_id,
                    say.target,
                    refusal,
                )
                return True
            answer = await client.room_send(
                room_id, "m.room.message", content, tx_id=transaction_id
            )
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.info("matrix %s: sending waits: %s", self.connector_id, error)
            return False
        if isinstance(answer, RoomSendError):
            is_passing = _is_passing(answer)
            logger.log(
                logging.INFO if is_passing else logging.WARNING,
                "matrix %s: message %s to %s %s: %s",
                self.connector_id,
                say.message_id,
                say.target,
                "waits" if is_passing else "not sent",
                _described(answer),
            )
            return not is_passing
        return True

    async def _room_id(self, client: AsyncClient, target: str) -> str | None:
        if not target.startswith("#"):
            return target
        if target in self.room_ids:
            return self.room_ids[target]
        answer = await client.room_resolve_alias(target)
        if isinstance(answer, RoomResolveAliasError):
            logger.warning("matrix %s: %s unknown: %s", self.connector_id, target, answer)
            return None
        room_id = str(answer.room_id)
        self.room_ids[target], self.room_names[room_id] = room_id, target
        return room_id

    # Typing and lag.

    async def typing(self, target: str, is_typing: bool) -> None:
        # Sent in order by one task: an "off" overtaking its "on" would leave the bot
        # typing for half a minute.
        self.typing_wanted[target] = is_typing
        self.typing_changed.set()

    async def _typing_send(self) -> None:
        while True:
            await self.typing_changed.wait()
            self.typing_changed.clear()
            await self.is_ready.wait()
            wanted, self.typing_wanted = self.typing_wanted, {}
            for target, is_typing in wanted.items():
                client = self.client
                try:
                    room_id = await self._room_id(client, target) if client else None
                    if client is not None and room_id is not None:
                        await client.room_typing(room_id, is_typing, timeout=TYPING_MS)
                except (aiohttp.ClientError, TimeoutError) as error:
                    # Only a notification: not worth more than a line in the log.
                    logger.info("matrix %s: typing not shown: %s", self.connector_id, error)

    async def lag_measure(self) -> None:
        """A `whoami`: the cheapest request that reaches the homeserver and its database."""
        client = self.client
        if client is None or not self.is_ready.is_set():
            return
        sent_at = time.monotonic()
        answer = await asyncio.wait_for(client.whoami(), timeout=REQUEST_SECONDS)
        if not isinstance(answer, ErrorResponse):
            self.status.lag_ms = int((time.monotonic() - sent_at) * 1000)


def _has_privileged_creators(room_version: str) -> bool:
    # Versions are numbers up to now; an experimental one (a name) is taken for an older kind.
    return room_version.isdigit() and int(room_version) >= PRIVILEGED_CREATORS_VERSION


def _is_passing(answer: ErrorResponse) -> bool:
    """A refusal that may not last: the homeserver failing, or a token it forgot (the sync
    logs in again); not being in the room or allowed to speak there lasts."""
    status = getattr(answer.transport_response, "status", 500)
    return status >= 500 or answer.status_code in (None, "M_UNKNOWN", UNKNOWN_TOKEN)


def _described(answer: ErrorResponse) -> str:
    """ "M_FORBIDDEN Invalid password": Matrix's code and its words."""
    return " ".join(part for part in (answer.status_code, answer.message) if part) or "refused"


def _packed(lines: list[str]) -> list[str]:
    """Lines joined into as few texts of at most `MESSAGE_BYTES` as they fit in."""
    texts: list[str] = []
    for line in lines:
        if texts and len(texts[-1].encode()) + 1 + len(line.encode()) <= MESSAGE_BYTES:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return texts
