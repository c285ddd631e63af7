"""The conversation endpoint for integrators: token-scoped, with `Idempotency-Key`."""

import uuid
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import api as conversation_api
from conversations.exceptions import BotNotFound
from conversations.models import Bot, Message
from integrations.audit import api_actor, audit_context
from integrations.events import room_callback_set
from integrations.models import ApiToken
from integrations.permissions import ApiAccess
from integrations.schema import ErrorSerializer
from integrations.services import idempotency_client_id
from integrations.tenancy import visible_bot_ids
from webhooks.models import WebhookEndpoint


class SenderSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Message.SenderKind.choices)
    name = serializers.CharField()


class OutboundSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sender = SenderSerializer()
    text = serializers.CharField(allow_blank=True)
    html = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class ConversationInputSerializer(conversation_api.MessageInputSerializer):
    callback_endpoint = serializers.PrimaryKeyRelatedField(
        queryset=WebhookEndpoint.objects.all(),
        required=False,
        help_text="A webhook endpoint of this bot: the room's replies are also pushed there, "
        "in order, as signed `reply.sent` webhooks.",
    )

    def __init__(self, *args: Any, bot: Bot | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if bot is not None:  # None only when the schema is generated
            self.fields["callback_endpoint"].queryset = WebhookEndpoint.objects.filter(bot=bot)


class MessageAnswerSerializer(serializers.Serializer):
    message = OutboundSerializer()
    replies = OutboundSerializer(many=True)
    is_complete = serializers.BooleanField(help_text="False: some replies are still coming.")
    is_duplicate = serializers.BooleanField(help_text="True: a retry of a stored message.")
    replies_url = serializers.CharField(
        required=False, help_text="With 202: where to read the replies that come later."
    )


def _principal(request: Request) -> str:
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    return f"user:{request.user.pk}"


class BotMessagesView(APIView):
    """POST /api/v1/bots/<slug>/messages/: 200 with the replies, or 202 if some are pending."""

    permission_classes = [ApiAccess]

    @extend_schema(
        request=ConversationInputSerializer,
        responses={
            200: MessageAnswerSerializer,
            202: MessageAnswerSerializer,
            422: OpenApiResponse(ErrorSerializer, "The Idempotency-Key came with another body."),
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Any string up to 255 characters: a retried post with the same key "
                "and body is stored once and answered again; another body with it is a 422.",
            )
        ],
    )
    def post(self, request: Request, bot_slug: str) -> Response:
        bot = self._bot(request, bot_slug)
        serializer = ConversationInputSerializer(data=request.data, bot=bot)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        endpoint = data.pop("callback_endpoint", None)
        key = request.headers.get("Idempotency-Key")
        if key is not None:
            data["client_id"] = self._idempotent_client_id(request, bot, key, data, endpoint)
        answer = conversation_api.message_answer(bot_slug=bot_slug, data=data)
        response = Response(answer.body, status=200 if answer.is_complete else 202)
        message = Message.objects.select_related("room").get(pk=answer.body["message"]["id"])
        if endpoint is not None:
            with audit_context(api_actor(request)):
                room_callback_set(room=message.room, endpoint=endpoint, after_message_id=message.pk)
        if response.status_code == 202:
            response.data["replies_url"] = (
                f"{reverse('api:message-list')}?room={message.room_id}"
                f"&after_id={message.pk}&sender_kind=bot"
            )
        return response

    def _bot(self, request: Request, bot_slug: str) -> Bot:
        bot = Bot.objects.filter(slug=bot_slug).first()
        allowed = visible_bot_ids(request)
        if bot is None or (allowed is not None and bot.pk not in allowed):
            raise BotNotFound(f"There is no bot {bot_slug!r}, or it is switched off.")
        return bot

    def _idempotent_client_id(
        self, request: Request, bot: Bot, key: str, data: dict[str, Any], endpoint: Any
    ) -> uuid.UUID:
        if not key.strip() or len(key) > 255:
            raise serializers.ValidationError({"Idempotency-Key": ["Send 1 to 255 characters."]})
        if data.get("client_id"):
            raise serializers.ValidationError(
                {"client_id": ["Send either client_id or an Idempotency-Key header, not both."]}
            )
        body = {name: value for name, value in data.items() if name != "wait"}
        body["callback_endpoint"] = endpoint.pk if endpoint else None
        return idempotency_client_id(principal=_principal(request), bot=bot, key=key, body=body)
