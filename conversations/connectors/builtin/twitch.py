"""Twitch chat over its IRC interface: the bot's account in the channels staff list.

The bridge (`bridge/irc.py`, `TwitchConnection`) holds the connection: TLS, `PASS oauth:`,
the twitch.tv capabilities, IRCv3 tags for badges, display names and message ids, Twitch's
send limits. Out of scope: EventSub, whispers (direct messages), chat commands.
"""

import re
from typing import Any, ClassVar

from django import forms

from botsite.fields import StringListFormField
from conversations.connectors.bridged import BridgedConnectorType, endpoint_clean, trust_field
from conversations.connectors.builtin.irc import formatting_strip
from conversations.connectors.registry import connector_types

#: Twitch login names: 4 (3 for old accounts) to 25 letters, digits and underscores;
#: channels are `#` and one.
LOGIN = re.compile(r"^[a-z0-9_]{3,25}$")


class TwitchConfigForm(forms.Form):
    nick = forms.CharField(
        max_length=25, help_text="The bot's Twitch login name (the account the token is for)."
    )
    channels = StringListFormField(
        help_text="Channels to join, comma-separated: #yourchannel (a streamer's login name)."
    )
    host = forms.CharField(
        max_length=255,
        required=False,
        help_text="Empty: irc.chat.twitch.tv (change it only to test against another server).",
    )
    port = forms.IntegerField(
        min_value=1, max_value=65535, required=False, help_text="Empty: 6697 with TLS, else 6667."
    )
    tls = forms.BooleanField(required=False, initial=True, help_text="TLS (Twitch: always).")
    lines_per_second = forms.FloatField(
        min_value=0.05,
        max_value=100,
        required=False,
        help_text="Messages per second after a burst (empty: 0.66, Twitch's 20 per 30 s for "
        "an ordinary account; a moderator or a verified bot may send 100 per 30 s).",
    )
    burst = forms.IntegerField(
        min_value=1, max_value=100, required=False, help_text="Messages at once (empty: 3)."
    )
    broadcaster_trust = trust_field("the channel's broadcaster")
    moderator_trust = trust_field("a moderator")
    vip_trust = trust_field("a VIP")
    subscriber_trust = trust_field("a subscriber")

    def clean_nick(self) -> str:
        nick = str(self.cleaned_data["nick"]).lower()
        if not LOGIN.match(nick):
            raise forms.ValidationError("Not a Twitch login name: letters, digits and _.")
        return nick

    def clean_channels(self) -> list[str]:
        channels = [str(channel).lower() for channel in self.cleaned_data["channels"] or []]
        wrong = [c for c in channels if not (c.startswith("#") and LOGIN.match(c[1:]))]
        if wrong:
            raise forms.ValidationError(
                f"Not Twitch channels: {', '.join(wrong)} (# and the streamer's login name)."
            )
        if not channels:
            raise forms.ValidationError("Name at least one channel.")
        return channels

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["host"] = cleaned.get("host") or "irc.chat.twitch.tv"
        if not cleaned.get("port"):
            cleaned["port"] = 6697 if cleaned.get("tls") else 6667
        endpoint_clean(self, "host", cleaned["host"], cleaned["port"])
        return cleaned


@connector_types.register
class TwitchConnector(BridgedConnectorType):
    """Twitch channels' chat, through the bridge; the password is the bot's OAuth token."""

    key = "twitch"
    label = "Twitch"
    ConfigForm = TwitchConfigForm
    example_config: ClassVar[dict[str, Any]] = {
        "nick": "botsite_bot",
        "channels": ["#yourchannel"],
        "host": "irc.chat.twitch.tv",
        "port": 6697,
        "tls": True,
    }

    def text_clean(self, text: str) -> str:
        return formatting_strip(text)
