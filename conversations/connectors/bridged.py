"""What the connector types held by the bridge share: the `inbound` frame turned into an
`InboundMessage` (docs/bridge-protocol.md), a `say` frame from a stored message, network
roles mapped to trust by settings staff choose."""

import uuid
from typing import Any, ClassVar

from django import forms

from botsite.http import OutboundError, endpoint_check
from conversations.connectors.base import (
    ConnectorIdentity,
    ConnectorType,
    InvalidInbound,
    inbound_text_problem,
)
from engine.messages import InboundMessage, OutboundMessage, TrustLevel

#: Every inbound message of a connector gets a `client_id` from its network event id, so a
#: frame the bridge sends again (it had no ack) is stored once.
EVENT_NAMESPACE = uuid.UUID("9b1d2f8e-6c4a-4f7e-8a53-2d0c1e7b6a90")
MAX_TEXT_CHARS = 4000


def trust_field(who: str) -> forms.TypedChoiceField:
    """A `<role>_trust` setting: the least trust the network role gives."""
    return forms.TypedChoiceField(
        choices=[(level.value, level.name.title()) for level in TrustLevel],
        coerce=int,
        required=False,
        help_text=f"Trust {who} gets at least (empty: none from the role).",
    )


def endpoint_clean(form: forms.Form, field: str, host: str, port: int) -> None:
    """The network's server may be reached: a public address, or one operators allowed
    (`HTTP_ALLOWED_HOSTS`, as for every outbound connection); else an error on `field`.
    Checked when staff save the settings and again when they test them."""
    try:
        endpoint_check(host, port)
    except OutboundError as error:
        form.add_error(field, str(error))


class BridgedConnectorType(ConnectorType):
    """A network whose connections a bridge process holds."""

    is_bridged = True
    #: The setting that lists the rooms the bot joins (channels, Matrix rooms, MUCs).
    rooms_setting: ClassVar[str] = "channels"

    def rooms_configured(self, config: dict[str, Any]) -> list[str]:
        rooms = config.get(self.rooms_setting) or []
        return [str(room) for room in rooms]

    def text_clean(self, text: str) -> str:
        """What arrives as text, made plain (IRC's formatting codes off, ...)."""
        return text

    def parse(self, raw: Any, identity: ConnectorIdentity) -> InboundMessage:
        """A bridge `inbound` frame: `event_id`, `text`, `addressed` (the bot's name was
        put in front, and taken off by the bridge)."""
        if not isinstance(raw, dict):
            raise InvalidInbound("A frame must be a JSON object.", code="invalid_frame")
        text, event_id = raw.get("text"), raw.get("event_id")
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 200:
            raise InvalidInbound("'event_id' must be a string of 1 to 200.", code="invalid_event")
        if not isinstance(text, str):
            raise InvalidInbound("'text' must be a string.", code="invalid_text")
        text = self.text_clean(text).strip()
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
        """A `say` frame: plain text, one line per line of it (the bridge cuts lines longer
        than its network takes)."""
        lines = [line for line in message.text.splitlines() if line.strip()]
        return {"type": "say", "id": message.id, "lines": lines}
