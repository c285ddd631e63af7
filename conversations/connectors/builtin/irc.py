"""IRC: a bot's nick on a server, in the channels staff list and in private messages.

The bridge (`bridge/irc.py`) holds the connection; this type checks what staff configure
and translates the bridge's frames (docs/bridge-protocol.md) to and from the engine.
"""

import re
import uuid
from typing import Any, ClassVar

from django import forms

from botsite.fields import StringListFormField
from conversations.connectors.base import (
    ConnectorIdentity,
    ConnectorType,
    InvalidInbound,
    inbound_text_problem,
)
from conversations.connectors.registry import connector_types
from engine.messages import InboundMessage, OutboundMessage, TrustLevel

#: Bold, colour (with its numbers), hex colour, reset, monospace, reverse, italic,
#: strike-through, underline: what IRC clients put in text, never part of a command.
FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
#: RFC 2812 channel names: a prefix, then no space, comma, BEL or colon.
CHANNEL = re.compile(r"^[#&+!][^\s,\x07:]{1,49}$")
NICK = re.compile(r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]{0,29}$")
#: Every inbound message of a connector gets a `client_id` from its network event id, so a
#: frame the bridge sends again (it had no ack) is stored once.
EVENT_NAMESPACE = uuid.UUID("9b1d2f8e-6c4a-4f7e-8a53-2d0c1e7b6a90")
MAX_TEXT_CHARS = 4000


def formatting_strip(text: str) -> str:
    return FORMATTING.sub("", text)


class IrcConfigForm(forms.Form):
    host = forms.CharField(max_length=255, help_text="The server, e.g. irc.libera.chat.")
    port = forms.IntegerField(
        min_value=1, max_value=65535, required=False, help_text="Empty: 6697 with TLS, else 6667."
    )
    tls = forms.BooleanField(required=False, initial=True, help_text="TLS (port 6697 usually).")
    nick = forms.CharField(max_length=30, help_text="The bot's nick; _ is added on a collision.")
    channels = StringListFormField(
        required=False, help_text="Channels to join, comma-separated: #botsite, #help."
    )
    auth = forms.ChoiceField(
        choices=[
            ("none", "None"),
            ("sasl", "SASL PLAIN (account = nick, the password)"),
            ("nickserv", "NickServ IDENTIFY (the password)"),
            ("server", "Server password (PASS)"),
        ],
        required=False,
        initial="none",
    )
    lines_per_second = forms.FloatField(
        min_value=0.1,
        max_value=1000,
        required=False,
        help_text="Lines the bot sends per second after a burst (empty: 1, under public "
        "networks' flood limits; raise it only on a server of your own).",
    )
    burst = forms.IntegerField(
        min_value=1, max_value=1000, required=False, help_text="Lines at once (empty: 4)."
    )
    op_trust = forms.TypedChoiceField(
        choices=[(level.value, level.name.title()) for level in TrustLevel],
        coerce=int,
        required=False,
        help_text="Trust a channel operator gets at least (empty: none from the role).",
    )
    voice_trust = forms.TypedChoiceField(
        choices=[(level.value, level.name.title()) for level in TrustLevel],
        coerce=int,
        required=False,
        help_text="Trust a voiced participant gets at least (empty: none from the role).",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("port"):
            cleaned["port"] = 6697 if cleaned.get("tls") else 6667
        return cleaned

    def clean_auth(self) -> str:
        return str(self.cleaned_data.get("auth") or "none")

    def clean_nick(self) -> str:
        nick: str = self.cleaned_data["nick"]
        if not NICK.match(nick):
            raise forms.ValidationError("Not an IRC nick: letters, digits and []\\`_^{|}-.")
        return nick

    def clean_channels(self) -> list[str]:
        channels: list[str] = self.cleaned_data["channels"] or []
        wrong = [channel for channel in channels if not CHANNEL.match(channel)]
        if wrong:
            raise forms.ValidationError(f"Not channel names: {', '.join(wrong)} (start with #).")
        return channels


@connector_types.register
class IrcConnector(ConnectorType):
    """IRC servers, their channels and private messages, through the bridge."""

    key = "irc"
    label = "IRC"
    is_bridged = True
    ConfigForm = IrcConfigForm
    example_config: ClassVar[dict[str, Any]] = {
        "host": "irc.libera.chat",
        "port": 6697,
        "tls": True,
        "nick": "botsite",
        "channels": ["#botsite"],
        "auth": "none",
    }

    def parse(self, raw: Any, identity: ConnectorIdentity) -> InboundMessage:
        """A bridge `inbound` frame: `event_id`, `text`, `addressed` (the bot's nick was
        put in front, and taken off by the bridge)."""
        if not isinstance(raw, dict):
            raise InvalidInbound("A frame must be a JSON object.", code="invalid_frame")
        text, event_id = raw.get("text"), raw.get("event_id")
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 200:
            raise InvalidInbound("'event_id' must be a string of 1 to 200.", code="invalid_event")
        if not isinstance(text, str):
            raise InvalidInbound("'text' must be a string.", code="invalid_text")
        text = formatting_strip(text).strip()
        if not text or len(text) > MAX_TEXT_CHARS:
            raise InvalidInbound(
                f"'text' must hold 1 to {MAX_TEXT_CHARS} characters.", code="invalid_text"
            )
        problem = inbound_text_problem(text)
        if problem is not None:
            raise InvalidInbound(f"'text' {problem}.", code="invalid_text")
        return InboundMessage(
            bot_slug=identity.bot_slug,
            connector=self.key,
            room_external_id=identity.room_external_id,
            participant_external_id=identity.participant_external_id,
            participant_name=identity.participant_name,
            text=text,
            client_id=uuid.uuid5(EVENT_NAMESPACE, f"{identity.room_external_id}:{event_id}"),
            is_direct=identity.is_direct,
            is_addressed=raw.get("addressed") is True,
        )

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        """A `say` frame: plain text, one IRC line per line of it (the bridge splits lines
        longer than a line may be on its server)."""
        lines = [line for line in message.text.splitlines() if line.strip()]
        return {"type": "say", "id": message.id, "lines": lines}
