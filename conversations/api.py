"""The conversation endpoint: post a participant's message, get the bot's replies."""

from typing import Any

from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from conversations import selectors, services
from conversations.connectors.api import ApiConnector
from conversations.connectors.base import ConnectorIdentity

MAX_WAIT_SECONDS = 30


class MessageInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4000, trim_whitespace=True)
    participant = serializers.CharField(
        max_length=150, help_text="The integrator's id of the person who wrote the message."
    )
    participant_name = serializers.CharField(max_length=150, required=False)
    room = serializers.CharField(
        max_length=200, required=False, help_text="A conversation id; default: one per participant."
    )
    client_id = serializers.UUIDField(required=False, help_text="Makes a retried post safe.")
    wait = serializers.FloatField(
        required=False, min_value=0, max_value=MAX_WAIT_SECONDS, default=5,
        help_text="Seconds to wait for replies from queued actions.",
    )  # fmt: skip


class BotMessagesView(APIView):
    """POST /api/v1/bots/<slug>/messages/: 200 with the replies, or 202 if some are pending."""

    permission_classes = [IsAdminUser]  # integrator tokens come with the REST API issue
    connector = ApiConnector()

    def post(self, request: Request, bot_slug: str) -> Response:
        serializer = MessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.message_answer(bot_slug=bot_slug, data=serializer.validated_data)

    def message_answer(self, *, bot_slug: str, data: dict[str, Any]) -> Response:
        participant = data["participant"]
        room = data.get("room") or f"participant:{participant}"
        identity = ConnectorIdentity(
            bot_slug=bot_slug,
            room_external_id=room,
            participant_external_id=participant,
            participant_name=data.get("participant_name") or participant,
            is_direct=not data.get("room"),
        )
        receipt = services.message_receive(inbound=self.connector.parse(data, identity))
        replies, is_complete = selectors.replies_wait(
            message_id=receipt.message.id, timeout_seconds=data["wait"]
        )
        body = {
            "message": self.connector.render(receipt.message),
            "replies": [self.connector.render(reply) for reply in replies],
            "is_complete": is_complete,
            "is_duplicate": receipt.is_duplicate,
        }
        code = status.HTTP_200_OK if is_complete else status.HTTP_202_ACCEPTED
        return Response(body, status=code)
