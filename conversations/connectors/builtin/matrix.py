"""Matrix: a bot's account on a homeserver, in the rooms staff list and in the direct chats
people invite it to.

The bridge (`bridge/matrix.py`) holds the connection (matrix-nio, the client-server API,
no end-to-end encryption); this type checks what staff configure and translates the
bridge's frames (docs/bridge-protocol.md) to and from the engine.
"""

import re
from typing import Any, ClassVar

import nh3
from django import forms

from botsite.fields import StringListFormField
from botsite.http import url_validator
from conversations.connectors.bridged import BridgedConnectorType, trust_field
from conversations.connectors.registry import connector_types
from engine.messages import OutboundMessage

#: The Matrix spec's user ids: `@localpart:server`, the server a name or an address with
#: an optional port (https://spec.matrix.org/latest/appendices/#user-identifiers).
SERVER_NAME = r"(?:[A-Za-z0-9.-]{1,255}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?"
USER_ID = re.compile(rf"^@[a-z0-9._=/+-]{{1,255}}:{SERVER_NAME}$")
#: A room id (`!opaque:server`) or an alias (`#name:server`).
ROOM = re.compile(rf"^[!#][^:\s]{{1,255}}:{SERVER_NAME}$")

#: What Matrix clients show of `formatted_body` (org.matrix.custom.html), narrowed to what
#: our replies use: https://spec.matrix.org/latest/client-server-api/#mroommessage-msgtypes
MATRIX_TAGS = {
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "u", "ul",
}  # fmt: skip
MATRIX_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
MATRIX_URL_SCHEMES = {"http", "https", "mailto"}
#: Matrix's power levels that make a room's admins and moderators (the spec's defaults).
ADMIN_LEVEL, MODERATOR_LEVEL = 100, 50


def matrix_html(markup: str) -> str:
    """`markup` as Matrix clients take it: only the tags and attributes the spec allows."""
    return nh3.clean(
        markup,
        tags=MATRIX_TAGS,
        attributes=MATRIX_ATTRIBUTES,
        url_schemes=MATRIX_URL_SCHEMES,
        link_rel=None,
    ).strip()


class MatrixConfigForm(forms.Form):
    homeserver = forms.URLField(
        max_length=255,
        assume_scheme="https",
        help_text="The homeserver's client API, e.g. https://matrix.org.",
    )
    user_id = forms.CharField(
        max_length=255,
        help_text="The bot's account, e.g. @botsite:matrix.org; the password is its login "
        "password.",
    )
    rooms = StringListFormField(
        required=False,
        help_text="Rooms to join, comma-separated: room ids (!abc:matrix.org) or aliases "
        "(#botsite:matrix.org). End-to-end encrypted rooms are not supported: the bot "
        "cannot read or write in them.",
    )
    auto_join = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Accept invitations (a room of two is a direct chat). On unless set off.",
    )
    lines_per_second = forms.FloatField(
        min_value=0.05,
        max_value=100,
        required=False,
        help_text="Messages per second after a burst (empty: 1; homeservers limit senders "
        "and the bridge waits when told to slow down).",
    )
    burst = forms.IntegerField(
        min_value=1, max_value=100, required=False, help_text="Messages at once (empty: 10)."
    )
    admin_trust = trust_field(f"a room admin (power level {ADMIN_LEVEL} or more)")
    moderator_trust = trust_field(f"a moderator (power level {MODERATOR_LEVEL} or more)")

    def clean_homeserver(self) -> str:
        homeserver = str(self.cleaned_data["homeserver"]).rstrip("/")
        if not homeserver.startswith(("http://", "https://")):
            raise forms.ValidationError("The homeserver's URL starts with https:// (or http://).")
        url_validator(homeserver)  # as every outbound URL: no private or local address
        return homeserver

    def clean_user_id(self) -> str:
        user_id = str(self.cleaned_data["user_id"]).strip()
        if not USER_ID.match(user_id):
            raise forms.ValidationError("Not a Matrix user id: @name:server, e.g. @bot:matrix.org.")
        return user_id

    def clean_rooms(self) -> list[str]:
        rooms: list[str] = self.cleaned_data["rooms"] or []
        wrong = [room for room in rooms if not ROOM.match(room)]
        if wrong:
            raise forms.ValidationError(
                f"Not Matrix rooms: {', '.join(wrong)} (!id:server or #alias:server)."
            )
        return rooms

    def clean_auto_join(self) -> bool:
        # A key left out of the JSON means on; a checkbox field alone would read it as off.
        return "auto_join" not in self.data or bool(self.cleaned_data["auto_join"])


@connector_types.register
class MatrixConnector(BridgedConnectorType):
    """Matrix rooms and direct chats, through the bridge (not end-to-end encrypted rooms)."""

    key = "matrix"
    label = "Matrix"
    ConfigForm = MatrixConfigForm
    rooms_setting = "rooms"
    example_config: ClassVar[dict[str, Any]] = {
        "homeserver": "https://matrix.org",
        "user_id": "@botsite:matrix.org",
        "rooms": ["#botsite:matrix.org"],
        "auto_join": True,
    }

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        """A `say` frame: the plain lines, and `html` (Matrix's subset) when the message has
        HTML; the bridge sends both as one Matrix message."""
        frame = super().render(message)
        markup = matrix_html(message.html) if message.html else ""
        return {**frame, "html": markup} if markup else frame
