import uuid
from typing import Any

from django.conf import settings

from conversations.connectors.base import (
    ConnectorIdentity,
    ConnectorType,
    InvalidInbound,
    inbound_text_problem,
)
from conversations.connectors.registry import connector_types
from engine.messages import InboundMessage, OutboundMessage


@connector_types.register
class WebChatConnector(ConnectorType):
    """The web chat: JSON frames over the WebSocket at /ws/chat/<bot>/."""

    key = "webchat"
    label = "Web chat"

    def parse(self, raw: Any, identity: ConnectorIdentity) -> InboundMessage:
        if not isinstance(raw, dict):
            raise InvalidInbound("A frame must be a JSON object.", code="invalid_frame")
        if raw.get("type") != "message":
            raise InvalidInbound(
                f"Unknown frame type {raw.get('type')!r}; send type 'message'.",
                code="unknown_type",
            )
        text = raw.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInbound("'text' must be a non-empty string.", code="invalid_text")
        if len(text) > settings.CHAT_MESSAGE_MAX_CHARS:
            raise InvalidInbound(
                f"'text' is longer than {settings.CHAT_MESSAGE_MAX_CHARS} characters.",
                code="text_too_long",
            )
        problem = inbound_text_problem(text)
        if problem is not None:
            raise InvalidInbound(f"'text' {problem}.", code="invalid_text")
        client_id = raw.get("client_id")
        if client_id is not None:
            try:
                client_id = uuid.UUID(str(client_id))
            except ValueError:
                raise InvalidInbound(
                    "'client_id' must be a UUID.", code="invalid_client_id"
                ) from None
        return InboundMessage(
            bot_slug=identity.bot_slug,
            connector=self.key,
            room_external_id=identity.room_external_id,
            participant_external_id=identity.participant_external_id,
            participant_name=identity.participant_name,
            text=text.strip(),
            client_id=client_id,
            is_direct=identity.is_direct,
            user_id=identity.user_id,
        )

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        return {
            "type": "message",
            "id": message.id,
            "sender": {"kind": message.sender_kind, "name": message.sender_name},
            "text": message.text,
            "html": message.html,
            "created_at": message.created_at,
        }
