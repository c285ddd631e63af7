"""A DOUBLE of Twitch's chat server (its IRC interface), for the tests: no Twitch server
can run here. It speaks what Twitch documents (dev.twitch.tv/docs/irc): `PASS oauth:`,
a NOTICE "Login authentication failed" for a wrong token, `CAP LS` and `CAP REQ` for
twitch.tv/tags, /commands and /membership, JOIN with USERSTATE and ROOMSTATE, PRIVMSG
relayed with IRCv3 tags (badges, display-name, id, user-id, ...), PING/PONG; and it
records what Twitch would hold against the bot: messages over 500 characters and messages
over the send limit (20 in 30 s for an ordinary account), which Twitch drops.

The IRC core (channels, reconnects, flood pacing) is tested against a real IRC server
(ngircd); this double covers only what is Twitch's own.
"""

import asyncio
import itertools
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from botsite.tests.processes import free_port

HOST = "tmi.twitch.tv"
CAPABILITIES = "twitch.tv/tags twitch.tv/commands twitch.tv/membership"
MAX_CHARS = 500
LIMIT_MESSAGES, LIMIT_SECONDS = 20, 30.0


@dataclass
class Viewer:
    """Who a login is on Twitch, as the tags tell it."""

    display_name: str
    user_id: str
    badges: str = ""


@dataclass
class _Client:
    writer: asyncio.StreamWriter
    token: str = ""
    nick: str = ""
    capabilities: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    sent_at: deque[float] = field(default_factory=deque)


class TwitchDouble:
    def __init__(self, tokens: dict[str, str]) -> None:
        """`tokens`: login → the OAuth token it must give."""
        self.tokens = tokens
        self.viewers: dict[str, Viewer] = {}
        self.port = free_port()
        self.clients: list[_Client] = []
        #: What Twitch would have dropped: (login, reason, text).
        self.violations: list[tuple[str, str, str]] = []
        self.ids = itertools.count(1000)
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(timeout=10)

    def stop(self) -> None:
        async def close() -> None:
            assert self.server is not None
            self.server.close()
            for client in self.clients:
                client.writer.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        self.clients.append(client)
        try:
            while raw := await reader.readline():
                await self._line(client, raw.decode("utf-8", "replace").rstrip("\r\n"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.clients.remove(client)
            writer.close()

    def _send(self, client: _Client, line: str) -> None:
        client.writer.write(f"{line}\r\n".encode())

    async def _line(self, client: _Client, line: str) -> None:
        command, _, rest = line.partition(" ")
        command = command.upper()
        if command == "PASS":
            client.token = rest.removeprefix(":")
        elif command == "CAP":
            await self._cap(client, rest)
        elif command == "NICK":
            await self._login(client, rest.strip().lower())
        elif command == "PING":
            self._send(client, f":{HOST} PONG {HOST} :{rest.removeprefix(':')}")
        elif command == "JOIN" and client.nick:
            for channel in rest.strip().lower().split(","):
                self._join(client, channel)
        elif command == "PRIVMSG" and client.nick:
            channel, text = _params(rest)[:2]
            self._privmsg(client, channel.lower(), text)
        elif command in ("USER", "PONG", "PART", "QUIT"):
            pass
        elif client.nick:  # WHOIS, WHO, MODE, ...: Twitch knows none of them
            self._send(client, f":{HOST} 421 {client.nick} {command} :Unknown command")
        await client.writer.drain()

    async def _cap(self, client: _Client, rest: str) -> None:
        subcommand, _, wanted = rest.partition(" ")
        if subcommand.upper() == "LS":
            self._send(client, f":{HOST} CAP * LS :{CAPABILITIES}")
        elif subcommand.upper() == "REQ":
            asked = wanted.removeprefix(":").split()
            known = [cap for cap in asked if cap in CAPABILITIES.split()]
            client.capabilities.update(known)
            verdict = "ACK" if len(known) == len(asked) else "NAK"
            self._send(client, f":{HOST} CAP * {verdict} :{' '.join(asked)}")

    async def _login(self, client: _Client, nick: str) -> None:
        expected = self.tokens.get(nick)
        if expected is None or client.token != f"oauth:{expected}":
            self._send(client, f":{HOST} NOTICE * :Login authentication failed")
            await client.writer.drain()
            client.writer.close()
            return
        client.nick = nick
        for number, text in (
            ("001", "Welcome, GLHF!"),
            ("002", f"Your host is {HOST}"),
            ("003", "This server is rather new"),
            ("004", "-"),
            ("375", "-"),
            ("372", "You are in a maze of twisty passages, all alike."),
            ("376", ">"),
        ):
            self._send(client, f":{HOST} {number} {nick} :{text}")
        if "twitch.tv/tags" in client.capabilities:
            self._send(client, f"@badges=;display-name={nick};user-id=1 :{HOST} GLOBALUSERSTATE")

    def channels_of(self, nick: str) -> set[str]:
        return {channel for c in list(self.clients) if c.nick == nick for channel in c.channels}

    def _source(self, nick: str) -> str:
        return f":{nick}!{nick}@{nick}.{HOST}"

    def _join(self, client: _Client, channel: str) -> None:
        client.channels.add(channel)
        for other in self.clients:
            if channel in other.channels and (
                other is client or "twitch.tv/membership" in other.capabilities
            ):
                self._send(other, f"{self._source(client.nick)} JOIN {channel}")
        self._send(client, f":{client.nick}.{HOST} 353 {client.nick} = {channel} :{client.nick}")
        self._send(client, f":{client.nick}.{HOST} 366 {client.nick} {channel} :End of /NAMES")
        if "twitch.tv/tags" in client.capabilities:
            self._send(client, f"@badges=;mod=0 :{HOST} USERSTATE {channel}")
            self._send(client, f"@emote-only=0;room-id=1;slow=0 :{HOST} ROOMSTATE {channel}")

    def _privmsg(self, client: _Client, channel: str, text: str) -> None:
        now = time.monotonic()
        while client.sent_at and client.sent_at[0] < now - LIMIT_SECONDS:
            client.sent_at.popleft()
        if len(text) > MAX_CHARS:
            self.violations.append((client.nick, "too long", text))
            return
        if len(client.sent_at) >= LIMIT_MESSAGES:
            self.violations.append((client.nick, "over the send limit", text))
            return
        client.sent_at.append(now)
        viewer = self.viewers.get(client.nick, Viewer(client.nick, str(next(self.ids))))
        tags = (
            f"@badge-info=;badges={viewer.badges};color=;display-name={viewer.display_name};"
            f"emotes=;first-msg=0;flags=;id={uuid.uuid4()};mod=0;room-id=1;subscriber=0;"
            f"tmi-sent-ts={int(time.time() * 1000)};turbo=0;user-id={viewer.user_id};user-type="
        )
        for other in self.clients:
            if other is not client and channel in other.channels:
                prefix = f"{tags} " if "twitch.tv/tags" in other.capabilities else ""
                self._send(other, f"{prefix}{self._source(client.nick)} PRIVMSG {channel} :{text}")


def _params(rest: str) -> list[str]:
    """An IRC line's parameters: words, then the trailing one after " :" (or a last word)."""
    head, colon, trailing = (
        rest.partition(" :") if not rest.startswith(":") else ("", ":", rest[1:])
    )
    return head.split() + ([trailing] if colon else [])


@contextmanager
def twitch_double(tokens: dict[str, str]) -> Iterator[TwitchDouble]:
    double = TwitchDouble(tokens)
    double.start()
    try:
        yield double
    finally:
        double.stop()
