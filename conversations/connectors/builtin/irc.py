"""IRC: a bot's nick on a server, in the channels staff list and in private messages.

The bridge (`bridge/irc.py`) holds the connection; this type checks what staff configure
and translates the bridge's frames (docs/bridge-protocol.md) to and from the engine.
"""

import re
from typing import Any, ClassVar

from django import forms

from botsite.fields import StringListFormField
from conversations.connectors.bridged import BridgedConnectorType, endpoint_clean, trust_field
from conversations.connectors.registry import connector_types

#: Bold, colour (with its numbers), hex colour, reset, monospace, reverse, italic,
#: strike-through, underline: what IRC clients put in text, never part of a command.
FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
#: RFC 2812 channel names: a prefix, then no space, comma, BEL or colon.
CHANNEL = re.compile(r"^[#&+!][^\s,\x07:]{1,49}$")
NICK = re.compile(r"^[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]{0,29}$")


def formatting_strip(text: str) -> str:
    return FORMATTING.sub("", text)


def channels_clean(channels: list[str] | None) -> list[str]:
    wrong = [channel for channel in channels or [] if not CHANNEL.match(channel)]
    if wrong:
        raise forms.ValidationError(f"Not channel names: {', '.join(wrong)} (start with #).")
    return channels or []


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
    op_trust = trust_field("a channel operator")
    voice_trust = trust_field("a voiced participant")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("port"):
            cleaned["port"] = 6697 if cleaned.get("tls") else 6667
        if cleaned.get("host"):
            endpoint_clean(self, "host", cleaned["host"], cleaned["port"])
        return cleaned

    def clean_auth(self) -> str:
        return str(self.cleaned_data.get("auth") or "none")

    def clean_nick(self) -> str:
        nick: str = self.cleaned_data["nick"]
        if not NICK.match(nick):
            raise forms.ValidationError("Not an IRC nick: letters, digits and []\\`_^{|}-.")
        return nick

    def clean_channels(self) -> list[str]:
        return channels_clean(self.cleaned_data["channels"])


@connector_types.register
class IrcConnector(BridgedConnectorType):
    """IRC servers, their channels and private messages, through the bridge."""

    key = "irc"
    label = "IRC"
    ConfigForm = IrcConfigForm
    example_config: ClassVar[dict[str, Any]] = {
        "host": "irc.libera.chat",
        "port": 6697,
        "tls": True,
        "nick": "botsite",
        "channels": ["#botsite"],
        "auth": "none",
    }

    def text_clean(self, text: str) -> str:
        return formatting_strip(text)
