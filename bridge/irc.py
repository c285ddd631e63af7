"""IRC and Twitch connections of the bridge: a bot's nick on a server, its channels, its
private messages; sends paced under the server's flood limit, cut to its line limit."""

import asyncio
import contextlib
import logging
import time
from typing import Any, ClassVar

import pydle

from bridge.connection import (
    Arrival,
    Connection,
    ConnectionLost,
    ConnectionState,
    Say,
    addressed_stripped,
    described,
)
from bridge.text import lines_fit, text_cut

logger = logging.getLogger(__name__)

#: RFC 1459: 512 bytes a line with its CRLF. What the server puts in front when it relays
#: ours (":nick!user@host PRIVMSG target :") is counted with room for a long user and host.
LINE_BYTES = 510
HOSTMASK_ALLOWANCE = 10 + 63 + 4
#: Twitch: a chat message holds at most 500 characters.
TWITCH_CHARS = 500
TWITCH_LINE_JOIN = " · "
TWITCH_CAPABILITIES = ("twitch.tv/tags", "twitch.tv/commands", "twitch.tv/membership")


class _Client(pydle.Client):  # type: ignore[misc]
    # The connection reconnects itself with backoff and jitter (`Connection._run`).
    RECONNECT_ON_ERROR = False

    def __init__(self, owner: "IrcConnection", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.owner = owner

    async def on_connect(self) -> None:
        await super().on_connect()
        await self.owner.connected()

    async def handle_forever(self) -> None:
        # pydle ends its reading on a reset connection by raising, with no disconnect
        # callback: the connection would wait for a disconnect that never comes.
        try:
            await super().handle_forever()
        except OSError as error:
            self.owner.server_error = self.owner.server_error or described(error)
            with contextlib.suppress(Exception):  # it is gone already
                await self.disconnect(expected=False)
        finally:
            self.owner.disconnected(expected=False)

    async def on_disconnect(self, expected: bool) -> None:
        await super().on_disconnect(expected)
        self.owner.disconnected(expected)

    async def on_raw_privmsg(self, message: Any) -> None:
        # The tags (IRCv3 message-tags: Twitch's badges, display-name, id) are on the raw
        # message only; `on_message` reads them from here.
        self.owner.tags = dict(getattr(message, "tags", None) or {})
        await super().on_raw_privmsg(message)

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

    async def on_raw_error(self, message: Any) -> None:
        # The server's reason for closing ("Access denied: Bad password?"): what staff need.
        self.owner.server_error = " ".join(message.params)
        await super().on_raw_error(message)

    async def on_raw_464(self, message: Any) -> None:
        """ERR_PASSWDMISMATCH."""
        self.owner.server_error = "the server refused the password"


class IrcConnection(Connection):
    """One connector's nick on one IRC server."""

    kind = "irc"
    #: Lines at once, then lines per second: under the usual servers' flood limits (ngircd
    #: and Libera disconnect or stall a client that sends faster for long).
    SEND_BURST = 4
    SEND_PER_SECOND = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client: _Client | None = None
        self.closed: asyncio.Future[None] | None = None
        self.pinged_at: float | None = None
        self.tags: dict[str, Any] = {}
        self.server_error = ""

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

    def _server_password(self) -> str | None:
        return self.secret if self.config.get("auth") == "server" and self.secret else None

    async def _session(self) -> None:
        self.server_error = ""
        self.client = self._client_make()
        self.closed = asyncio.get_running_loop().create_future()
        tls = bool(self.config.get("tls"))
        try:
            await self.client.connect(
                self.config["host"],
                int(self.config.get("port") or 6667),
                tls=tls,
                tls_verify=tls and self.config.get("tls_verify", True) is not False,
                password=self._server_password(),
            )
        except pydle.Error as error:
            raise ConnectionLost(str(error) or type(error).__name__) from error
        await self.closed

    async def _close(self) -> None:
        if self.client is not None and self.client.connected:
            await self.client.quit("Botsite bridge stopping")

    async def connected(self) -> None:
        assert self.client is not None  # noqa: S101
        if self.config.get("auth") == "nickserv" and self.secret:
            await self.client.message("NickServ", f"IDENTIFY {self.secret}")
        for channel in self.config.get("channels", []):
            await self.client.join(channel)
        self.status = ConnectionState(
            state="connected", joined=list(self.config.get("channels", []))
        )
        self.is_ready.set()

    def disconnected(self, expected: bool) -> None:
        self.is_ready.clear()
        if self.closed is None or self.closed.done():
            return
        if not expected:
            detail = self.server_error or "disconnected by the server"
            self.status = ConnectionState(state="failing", detail=detail)
        self.closed.set_result(None)

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
        addressed, text = addressed_stripped(text, self.client.nickname)
        answer = self.local_answer(text)
        if answer is not None:
            self.say(Say(0, where, [answer]))
            return
        await self.deliver(
            Arrival(
                event_id=self._event_id(),
                target=where,
                is_direct=is_direct,
                sender=self._sender_id(by),
                sender_name=self._display_name(by),
                roles=[] if is_direct else self._roles(target, by),
                text=text,
                is_addressed=addressed,
            )
        )

    def _event_id(self) -> str:
        return self.event_id_next()

    def _sender_id(self, nick: str) -> str:
        return nick

    def _display_name(self, nick: str) -> str:
        return nick

    def _roles(self, channel: str, nick: str) -> list[str]:
        assert self.client is not None  # noqa: S101
        if channel not in self.client.channels:
            return []
        modes = self.client.channels[channel].get("modes", {})
        return [role for role, mode in (("op", "o"), ("voice", "v")) if nick in modes.get(mode, [])]

    # Sending.

    def _pieces(self, say: Say) -> list[str]:
        nick = self.client.nickname if self.client is not None else self.config["nick"]
        room = LINE_BYTES - HOSTMASK_ALLOWANCE - len(f":{nick}! PRIVMSG {say.target} :".encode())
        return lines_fit("\n".join(say.lines), max_bytes=room)

    async def _piece_send(self, say: Say, piece: str) -> None:
        client = self.client
        try:
            if client is None:
                raise ConnectionLost("not connected")
            await client.rawmsg("PRIVMSG", say.target, piece)
        except AttributeError as error:
            # pydle drops its connection object when the socket goes.
            raise ConnectionLost("disconnected") from error


class _TwitchClient(_Client):
    """Asks for Twitch's capabilities: in the negotiation where the server lists them, and
    once registered where it does not (Twitch's documented way: `CAP REQ` after login)."""

    async def on_capability_twitch_tv_tags_available(self, value: Any) -> bool:
        return True

    async def on_capability_twitch_tv_commands_available(self, value: Any) -> bool:
        return True

    async def on_capability_twitch_tv_membership_available(self, value: Any) -> bool:
        return True

    async def _create_user(self, nickname: str) -> None:
        # Without WHOX, pydle WHOISes each new nick and waits for the answer before the
        # message is handled; Twitch answers WHOIS with "421 Unknown command", so it would
        # wait forever. The tags carry what the bot needs to know of a sender.
        super(pydle.features.whox.WHOXSupport, self)._create_user(nickname)

    async def on_raw_004(self, message: Any) -> None:
        """Twitch's RPL_MYINFO is `004 <nick> :-`: no server name, modes or version."""

    async def on_raw_globaluserstate(self, message: Any) -> None:
        """The bot's own badges and colour: nothing the bot needs."""

    async def on_raw_userstate(self, message: Any) -> None:
        """The bot's badges in a channel (a moderator may send more): not used yet."""

    async def on_raw_roomstate(self, message: Any) -> None:
        """Slow mode, followers-only and the like: Twitch enforces them on its side."""

    async def on_raw_notice(self, message: Any) -> None:
        # Twitch refuses a token with a NOTICE ("Login authentication failed") and closes.
        if not self.registered and message.params:
            self.owner.server_error = f"Twitch refused the login: {message.params[-1]}"
        await super().on_raw_notice(message)

    async def on_connect(self) -> None:
        if not self._capabilities.get("twitch.tv/tags"):
            # Without the tags there are no badges, display names or message ids.
            await self.rawmsg("CAP", "REQ", " ".join(TWITCH_CAPABILITIES))
        await super().on_connect()


class TwitchConnection(IrcConnection):
    """Twitch chat over its IRC interface: `PASS oauth:`, the twitch.tv capabilities, the
    IRCv3 tags for badges, display names and message ids; out of scope: EventSub,
    whispers."""

    kind = "twitch"
    #: Twitch: 20 messages per 30 s for an ordinary account (100 for a moderator or a
    #: verified bot, which staff may set); a short burst, then one every 1.5 s.
    SEND_BURST = 3
    SEND_PER_SECOND = 20 / 30
    ROLES: ClassVar[tuple[str, ...]] = ("broadcaster", "moderator", "vip", "subscriber")

    def _client_make(self) -> _Client:
        nick = self.config["nick"].lower()
        return _TwitchClient(self, nickname=nick, username=nick, realname=nick)

    def _server_password(self) -> str | None:
        token = self.secret.removeprefix("oauth:")
        return f"oauth:{token}" if token else None

    def _event_id(self) -> str:
        # Twitch's own message id: a copy sent again after a restart is still the same.
        message_id = self.tags.get("id")
        return (
            f"twitch-{message_id}"
            if isinstance(message_id, str) and message_id
            else (self.event_id_next())
        )

    def _sender_id(self, nick: str) -> str:
        # Twitch's user id outlives a change of login name.
        user_id = self.tags.get("user-id")
        return f"id:{user_id}" if isinstance(user_id, str) and user_id else nick

    def _display_name(self, nick: str) -> str:
        name = self.tags.get("display-name")
        return name if isinstance(name, str) and name else nick

    def _roles(self, channel: str, nick: str) -> list[str]:
        badges = self.tags.get("badges")
        held = {
            badge.split("/", 1)[0]
            for badge in (badges if isinstance(badges, str) else "").split(",")
            if badge
        }
        return [role for role in self.ROLES if role in held]

    def _pieces(self, say: Say) -> list[str]:
        """Twitch chat shows one line a message and counts messages against its limit:
        a reply's lines go together (" · " between them), cut at 500 characters (and at
        IRC's 512 bytes a line, which non-Latin text reaches first)."""
        room = LINE_BYTES - len(f"PRIVMSG {say.target} :".encode())
        pieces: list[str] = []
        rest = TWITCH_LINE_JOIN.join(line.strip() for line in say.lines if line.strip())
        separator = TWITCH_LINE_JOIN.strip()
        while rest:
            cut = text_cut(rest, max_bytes=room, max_chars=TWITCH_CHARS)
            if cut >= len(rest):
                pieces.append(rest)
                break
            pieces.append(rest[:cut].rstrip().removesuffix(separator).rstrip())
            rest = rest[cut:].lstrip().removeprefix(separator).lstrip()
        return pieces
