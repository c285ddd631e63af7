"""XMPP connections of the bridge: a bot's account on a server (slixmpp), its group chats
(MUC, XEP-0045) and its one-to-one chats; STARTTLS required unless staff chose otherwise.

The connection reconnects through `Connection._run` (backoff and jitter), so slixmpp's own
reconnecting is never used: a session connects once, and ends when the stream goes.
"""

import asyncio
import hashlib
import logging
import ssl
from typing import Any, Literal

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout, PresenceError
from slixmpp.jid import JID
from slixmpp.stanza import Message

from bridge.connection import (
    Arrival,
    Connection,
    ConnectionLost,
    ConnectionState,
    Say,
    addressed_stripped,
)
from bridge.text import lines_fit

logger = logging.getLogger(__name__)

#: The resource the bot's account uses: always the same, so a session left behind by a
#: killed bridge is replaced by the next login (servers resolve the conflict for the new
#: one) instead of keeping the bot's nick taken in its rooms.
RESOURCE = "botsite"
#: A message body at most this long; longer messages go as several. Servers take far
#: more in one stanza, but people's clients show a wall of text badly.
BODY_BYTES = 10_000
CONNECT_SECONDS = 30.0
JOIN_SECONDS = 20.0
#: A ping to the server unanswered this long means the connection is dead (a half-open
#: TCP connection sends nothing, so nothing else would notice).
PING_SECONDS = 20.0
#: MUC affiliations and the role that map to trust (`<name>_trust` in the config).
AFFILIATIONS = ("owner", "admin", "member")
ROLES = ("moderator",)
DELAY = "{urn:xmpp:delay}delay"
#: End-to-end encrypted messages (OMEMO, OpenPGP; XEP-0380 names them): their body is only
#: a "your client cannot read this" fallback, not something to answer.
ENCRYPTED = (
    "{urn:xmpp:eme:0}encryption",
    "{eu.siacs.conversations.axolotl}encrypted",
    "{urn:xmpp:omemo:2}encrypted",
    "{urn:xmpp:openpgp:0}openpgp",
    "{jabber:x:encrypted}x",
)


class XmppConnection(Connection):
    """One connector's account on one XMPP server."""

    kind = "xmpp"
    SEND_BURST = 5
    SEND_PER_SECOND = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: ClientXMPP | None = None
        self.ended: asyncio.Future[None] | None = None
        self.started: asyncio.Future[None] | None = None
        #: Why the session failed, in words for staff (`status.detail`).
        self.failure = ""
        #: The bot's nick in each room it joined.
        self.nicks: dict[str, str] = {}
        self.arrivals: asyncio.Queue[Arrival] = asyncio.Queue()
        self.pinging: asyncio.Task[None] | None = None

    @property
    def rooms(self) -> list[str]:
        return [str(room) for room in self.config.get("rooms") or []]

    def start(self) -> None:
        super().start()
        # Arrivals go to Botsite one after another, in the order the server sent them.
        self.tasks.append(asyncio.get_running_loop().create_task(self._deliver_in_order()))

    # The connection.

    def _client_make(self) -> ClientXMPP:
        tls = self.config.get("tls") or "starttls"
        mechanisms = {"unencrypted_plain": True, "unencrypted_scram": True}
        client = ClientXMPP(
            f"{self.config['jid']}/{RESOURCE}",
            self.secret,
            plugin_config={"feature_mechanisms": mechanisms} if tls == "plaintext" else {},
        )
        client.enable_starttls = tls == "starttls"
        client.enable_direct_tls = tls == "direct"
        client.enable_plaintext = tls == "plaintext"
        if tls == "direct":
            # Where the domain lists no SRV record: XEP-0368's usual port, not 5222.
            client.default_port = 5223
        client.ssl_context = self._ssl_context()
        for plugin in ("xep_0030", "xep_0045", "xep_0085", "xep_0199", "xep_0203", "xep_0359"):
            client.register_plugin(plugin)
        client.add_event_handler("session_start", self._session_started)
        client.add_event_handler("disconnected", self._disconnected)
        client.add_event_handler("connection_failed", self._connection_failed)
        client.add_event_handler("failed_auth", self._auth_failed)
        client.add_event_handler("no_auth", self._auth_impossible)
        client.add_event_handler("ssl_invalid_chain", self._certificate_refused)
        client.add_event_handler("stream_error", self._stream_error)
        client.add_event_handler("message", self._message)
        return client

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.config.get("tls_ca"):
            # Trusted as well as the system's authorities; the name is still checked.
            context.load_verify_locations(cadata=self.config["tls_ca"])
        if self.config.get("tls_insecure") is True:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _session(self) -> None:
        if self.client is None:
            self.client = self._client_make()
        client, loop = self.client, asyncio.get_running_loop()
        self.ended, self.started, self.failure = loop.create_future(), loop.create_future(), ""
        host, port = self.config.get("host") or None, self.config.get("port") or None
        try:
            await asyncio.wait_for(client.connect(host, port), CONNECT_SECONDS)
        except TimeoutError:
            self.failure = self.failure or f"no answer from {self._where()}"
        if not client.is_connected():
            # slixmpp would try again by itself; `_run` does, with its backoff.
            client.cancel_connection_attempt()
            raise ConnectionLost(self.failure or f"cannot reach {self._where()}")
        done, _ = await asyncio.wait(
            {self.started, self.ended}, timeout=CONNECT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        if not done:
            self.failure = f"no XMPP session from {self._where()} in {CONNECT_SECONDS:.0f} s"
            client.abort()
        await self.ended
        if not self.started.done():
            raise ConnectionLost(self.failure or "the server closed the connection")
        # A session that was up ends without raising: `_run` starts again from its
        # shortest wait, as after any network's ordinary disconnection.
        self.status = ConnectionState(
            state="failing", detail=self.failure or "disconnected by the server"
        )

    def _where(self) -> str:
        if self.config.get("host"):
            return f"{self.config['host']}:{self.config.get('port') or 5222}"
        return JID(self.config["jid"]).domain

    async def _close(self) -> None:
        if self.client is not None and self.client.is_connected():
            await self.client.disconnect(wait=2.0, reason="Botsite bridge stopping")

    async def _session_started(self, event: Any) -> None:
        assert self.client is not None  # noqa: S101
        ended = self.ended
        if self.started is not None and not self.started.done():
            self.started.set_result(None)
        self.client.send_presence()
        self.nicks = {}
        failures = [
            failure
            for failure in await asyncio.gather(*(self._join(room) for room in self.rooms))
            if failure
        ]
        if ended is None or ended.done():
            return  # the connection went while joining: the next session joins again
        self.status = ConnectionState(
            state="connected", detail="; ".join(failures), joined=list(self.nicks)
        )
        self.is_ready.set()

    async def _join(self, room: str) -> str:
        """Join `room` as the configured nick (with `_` added while it is taken); returns
        why it could not, or "" once in."""
        assert self.client is not None  # noqa: S101
        muc = self.client.plugin["xep_0045"]
        nick = str(self.config.get("nick") or JID(self.config["jid"]).user)
        for attempt in (nick, f"{nick}_", f"{nick}__"):
            # The room's history is not asked for: what was said before is not for the bot.
            self.nicks[room] = attempt
            try:
                await muc.join_muc_wait(JID(room), attempt, maxstanzas=0, timeout=JOIN_SECONDS)
            except PresenceError as error:
                if error.condition == "conflict":
                    continue
                self.nicks.pop(room, None)
                return f"cannot join {room}: {error.condition} {error.text or ''}".strip()
            except TimeoutError:
                self.nicks.pop(room, None)
                return f"cannot join {room}: no answer in {JOIN_SECONDS:.0f} s"
            return ""
        self.nicks.pop(room, None)
        return f"cannot join {room}: the nicks {nick}, {nick}_ and {nick}__ are taken"

    def _disconnected(self, event: Any) -> None:
        self.is_ready.clear()
        if self.ended is not None and not self.ended.done():
            self.ended.set_result(None)

    def _connection_failed(self, error: Any) -> None:
        reason = getattr(error, "strerror", None) or str(error)
        self.failure = f"cannot reach {self._where()}: {reason}"

    def _auth_failed(self, stanza: Any) -> None:
        condition = stanza["condition"] if stanza is not None else ""
        self.failure = f"the server refused the login ({condition}): check the JID and password"

    def _auth_impossible(self, event: Any) -> None:
        self.failure = (
            "no login method both sides accept (without TLS, passwords are only sent when "
            "the connector allows plaintext)"
        )

    def _certificate_refused(self, error: Any) -> None:
        self.failure = f"the server's certificate is not trusted: {error}"
        if self.client is not None:
            self.client.abort()

    def _stream_error(self, stanza: Any) -> None:
        text = stanza["text"] or ""
        self.failure = f"the server ended the stream: {stanza['condition']} {text}".strip()

    async def lag_measure(self) -> None:
        """A ping to the server (XEP-0199), answered in the background; one unanswered for
        `PING_SECONDS` ends the connection, which `_run` makes again."""
        if self.client is None or not self.is_ready.is_set():
            return
        if self.pinging is None or self.pinging.done():
            self.pinging = asyncio.get_running_loop().create_task(self._ping(self.client))

    async def _ping(self, client: ClientXMPP) -> None:
        try:
            seconds = await client.plugin["xep_0199"].ping(timeout=PING_SECONDS)
        except IqTimeout:
            self.failure = f"no answer to a ping in {PING_SECONDS:.0f} s"
            client.abort()
            return
        except IqError:
            return
        self.status.lag_ms = int(seconds * 1000)

    # Arrivals.

    def _message(self, message: Message) -> None:
        """Every message stanza; what is for Botsite is queued as it comes, in order."""
        kind, body = message["type"], str(message["body"] or "")
        if kind not in ("chat", "normal", "groupchat") or not body.strip():
            return
        if any(message.xml.find(tag) is not None for tag in ENCRYPTED):
            return
        sender = message["from"]
        if kind == "groupchat":
            arrival = self._room_arrival(message, sender, body)
        else:
            arrival = self._direct_arrival(message, sender, body)
        if arrival is None:
            return
        answer = self.local_answer(arrival.text)
        if answer is not None:
            self.say(Say(0, arrival.target, [answer]))
            return
        self.arrivals.put_nowait(arrival)

    def _room_arrival(self, message: Message, sender: JID, body: str) -> Arrival | None:
        room, nick = str(sender.bare), sender.resource
        if room not in self.nicks or not nick or nick == self.nicks[room]:
            return None  # not a room the bot is in, the room itself, or the bot's echo
        if message.xml.find(DELAY) is not None:
            return None  # history replayed on joining, said before the bot was there
        muc = self.client.plugin["xep_0045"] if self.client is not None else None
        occupant: dict[str, Any] = (
            dict(muc.rooms[None].get(JID(room), {}).get(nick, {})) if muc else {}
        )
        real = occupant.get("jid")
        # The occupant's own JID where the room shows it; else all there is: room/nick.
        who = str(JID(real).bare) if real else str(sender)
        addressed, text = addressed_stripped(body, self.nicks[room])
        roles = [occupant.get("affiliation"), occupant.get("role")]
        return Arrival(
            event_id=self._event_id(message, room, who),
            target=room,
            is_direct=False,
            sender=who,
            sender_name=nick,
            roles=[role for role in roles if role in AFFILIATIONS or role in ROLES],
            text=text,
            is_addressed=addressed,
        )

    def _direct_arrival(self, message: Message, sender: JID, body: str) -> Arrival | None:
        own = self.client.boundjid.bare if self.client is not None else ""
        if sender.bare == own or not sender.user:
            return None  # the bot's other sessions, or a server's notice (no one to answer)
        if str(sender.bare) in self.nicks and not sender.resource:
            return None  # a room's own notice (an invitation, a configuration change)
        if str(sender.bare) in self.nicks:
            # A private message from a room's occupant: only its room/nick reaches it.
            where = str(sender)
            name = sender.resource
        else:
            where = str(sender.bare)
            name = sender.user or where
        return Arrival(
            event_id=self._event_id(message, own, where),
            target=where,
            is_direct=True,
            sender=where,
            sender_name=name,
            roles=[],
            text=body.strip(),
            is_addressed=True,
        )

    def _event_id(self, message: Message, by: str, sender: str) -> str:
        """The id the server gave the message (XEP-0359 stanza-id by the room, or by the
        bot's own server in a chat), else the sender's origin-id; the message's plain
        `id` is not used: some clients count them from 1 again on each start, and two
        messages would be taken for one. Neither: an id of this connection's own."""
        stanza_id = message["stanza_id"]
        if stanza_id["id"] and str(stanza_id["by"]) == by:
            value = f"stanza:{by}:{stanza_id['id']}"
        elif message["origin_id"]["id"]:
            value = f"origin:{sender}:{message['origin_id']['id']}"
        else:
            return self.event_id_next()
        return "xmpp-" + hashlib.sha256(value.encode()).hexdigest()[:40]

    async def _deliver_in_order(self) -> None:
        while True:
            arrival = await self.arrivals.get()
            await self.deliver(arrival)

    # Sending.

    def _message_type(self, target: str) -> Literal["groupchat", "chat"]:
        return "groupchat" if target in self.nicks or target in self.rooms else "chat"

    def _pieces(self, say: Say) -> list[str]:
        bodies: list[str] = []
        for line in lines_fit("\n".join(say.lines), max_bytes=BODY_BYTES):
            if bodies and len(bodies[-1].encode()) + 1 + len(line.encode()) <= BODY_BYTES:
                bodies[-1] += "\n" + line
            else:
                bodies.append(line)
        return bodies

    async def _piece_send(self, say: Say, piece: str) -> None:
        client = self.client
        if client is None or not client.is_connected() or not self.is_ready.is_set():
            raise ConnectionLost("not connected")
        client.send_message(mto=JID(say.target), mbody=piece, mtype=self._message_type(say.target))

    async def typing(self, target: str, is_typing: bool) -> None:
        """Chat states (XEP-0085): "composing" while the bot works, "active" after."""
        client = self.client
        if client is None or not client.is_connected() or not self.is_ready.is_set():
            return
        notice = client.make_message(mto=JID(target), mtype=self._message_type(target))
        notice["chat_state"] = "composing" if is_typing else "active"
        notice.send()
