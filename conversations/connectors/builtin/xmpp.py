"""XMPP (Jabber): a bot's account on a server, in the group chats (MUC, XEP-0045) staff list
and in one-to-one chats.

The bridge (`bridge/xmpp.py`) holds the connection; this type checks what staff configure
and translates the bridge's frames (docs/bridge-protocol.md) to and from the engine. The
password is the account's, set in the admin and stored sealed.
"""

import ipaddress
import ssl
from typing import Any, ClassVar

from django import forms
from slixmpp.jid import JID, InvalidJID

from botsite.fields import StringListFormField
from conversations.connectors.bridged import BridgedConnectorType, endpoint_clean, trust_field
from conversations.connectors.registry import connector_types

STARTTLS, DIRECT_TLS, PLAINTEXT = "starttls", "direct", "plaintext"
PORTS = {STARTTLS: 5222, DIRECT_TLS: 5223, PLAINTEXT: 5222}


def bare_jid_clean(value: str, *, what: str) -> str:
    """`value` as a bare JID (`local@domain`, no resource), normalised as XMPP compares
    them; `ValidationError` naming `what` otherwise."""
    try:
        jid = JID(value.strip())
    except InvalidJID as error:
        raise forms.ValidationError(f"Not {what}: {value} ({error}).") from error
    if not jid.user or not jid.domain or jid.resource:
        raise forms.ValidationError(f"Not {what}: {value} (write it as name@server, no /).")
    return str(jid.bare)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class XmppConfigForm(forms.Form):
    jid = forms.CharField(
        max_length=3071, help_text="The bot's account, a bare JID: botsite@example.org."
    )
    host = forms.CharField(
        max_length=255,
        required=False,
        help_text="The server to connect to. Empty: found from the JID's domain (DNS SRV "
        "records, else the domain itself).",
    )
    port = forms.IntegerField(
        min_value=1,
        max_value=65535,
        required=False,
        help_text="Empty: 5222 (5223 with direct TLS). Only used with a host.",
    )
    tls = forms.ChoiceField(
        choices=[
            (STARTTLS, "STARTTLS, required (the usual)"),
            (DIRECT_TLS, "Direct TLS (XEP-0368, usually port 5223)"),
            (PLAINTEXT, "None: plaintext, only to a server on this machine (loopback)"),
        ],
        required=False,
        initial=STARTTLS,
    )
    tls_ca = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="A certificate (PEM) to trust for this server, such as its self-signed "
        "one; its name must still match the JID's domain. Empty: the system's authorities.",
    )
    tls_insecure = forms.BooleanField(
        required=False,
        help_text="Don't verify the server's certificate at all (anyone on the way can read "
        "and change the bot's traffic). Prefer trusting its certificate above.",
    )
    nick = forms.CharField(
        max_length=64, required=False, help_text="The bot's nick in rooms. Empty: the JID's name."
    )
    rooms = StringListFormField(
        required=False,
        help_text="Group chats (MUC) to join, comma-separated: botsite@conference.example.org.",
    )
    lines_per_second = forms.FloatField(
        min_value=0.1,
        max_value=1000,
        required=False,
        help_text="Messages the bot sends per second after a burst (empty: 1; servers "
        "throttle faster clients).",
    )
    burst = forms.IntegerField(
        min_value=1, max_value=1000, required=False, help_text="Messages at once (empty: 5)."
    )
    owner_trust = trust_field("a room's owner")
    admin_trust = trust_field("a room's admin")
    moderator_trust = trust_field("a room's moderator")
    member_trust = trust_field("a room's member")

    def clean_jid(self) -> str:
        return bare_jid_clean(self.cleaned_data["jid"], what="a JID")

    def clean_rooms(self) -> list[str]:
        rooms = [bare_jid_clean(room, what="a room") for room in self.cleaned_data["rooms"] or []]
        return list(dict.fromkeys(rooms))

    def clean_tls(self) -> str:
        return str(self.cleaned_data.get("tls") or STARTTLS)

    def clean_tls_ca(self) -> str:
        pem = str(self.cleaned_data.get("tls_ca") or "").strip()
        if pem:
            try:
                ssl.create_default_context(cadata=pem)
            except (ssl.SSLError, ValueError) as error:
                raise forms.ValidationError(f"Not a PEM certificate: {error}.") from error
        return pem

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        host, tls = str(cleaned.get("host") or "").strip(), cleaned.get("tls") or STARTTLS
        cleaned["host"] = host
        if tls == PLAINTEXT and not is_loopback(host):
            self.add_error(
                "tls",
                "Plaintext only to a server on this machine: set the host to 127.0.0.1, "
                "::1 or localhost (the password would cross the network readable).",
            )
        if host and not cleaned.get("port"):
            cleaned["port"] = PORTS[tls]
        jid = cleaned.get("jid")
        # Without a host the bridge asks DNS (SRV) where the JID's domain serves: the
        # domain itself is what can be checked here.
        server = host or (JID(jid).domain if jid else "")
        if server:
            endpoint_clean(self, "host", server, int(cleaned.get("port") or PORTS[tls]))
        if jid and not cleaned.get("nick"):
            cleaned["nick"] = JID(jid).user
        return cleaned


@connector_types.register
class XmppConnector(BridgedConnectorType):
    """XMPP accounts, their group chats (MUC) and one-to-one chats, through the bridge."""

    key = "xmpp"
    label = "XMPP"
    ConfigForm = XmppConfigForm
    rooms_setting = "rooms"
    example_config: ClassVar[dict[str, Any]] = {
        "jid": "botsite@example.org",
        "tls": STARTTLS,
        "nick": "botsite",
        "rooms": ["botsite@conference.example.org"],
    }
