from typing import Any

from conversations.connectors.base import ConnectorIdentity, ConnectorType
from conversations.connectors.registry import connector_types
from engine.messages import InboundMessage, OutboundMessage


@connector_types.register
class ApiConnector(ConnectorType):
    """The REST message endpoint: integrators post a participant's text, get the replies."""

    key = "api"
    label = "REST API"

    def parse(self, raw: Any, identity: ConnectorIdentity) -> InboundMessage:
        # The endpoint's serializer has validated `raw` already.
        return InboundMessage(
            bot_slug=identity.bot_slug,
            connector=self.key,
            room_external_id=identity.room_external_id,
            participant_external_id=identity.participant_external_id,
            participant_name=identity.participant_name,
            text=raw["text"],
            client_id=raw.get("client_id"),
            is_direct=identity.is_direct,
        )

    def render(self, message: OutboundMessage) -> dict[str, Any]:
        return {
            "id": message.id,
            "sender": {"kind": message.sender_kind, "name": message.sender_name},
            "text": message.text,
            "html": message.html,
            "created_at": message.created_at,
        }
