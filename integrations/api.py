"""The integrators' REST API: every admin model, scoped to the caller's bots."""

from typing import Any

from django.core.cache import cache
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from actions.models import Action, Command, Pattern, ResponseTemplate
from conversations.memory import MemoryScope
from conversations.models import Bot, BotMiddleware, MemoryEntry, Message, Participant, Room
from integrations import serializers
from integrations.audit import AuditActor, audit_context
from integrations.filters import MessageFilterSet
from integrations.models import ApiToken
from integrations.pagination import MessageCursorPagination
from integrations.services import api_token_create, api_token_revoke
from integrations.tenancy import tenant_scope
from publishers.models import Delivery, Post, Publisher, Subscription


def api_actor(request: Request) -> AuditActor:
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return AuditActor(source="api", user=request.user, token=token)


class TenantViewSetMixin:
    """Rows of the caller's bots only (another tenant's id is a 404); every write audited."""

    request: Request

    def get_queryset(self) -> Any:
        return tenant_scope(super().get_queryset(), self.request)  # type: ignore[misc]

    def perform_create(self, serializer: BaseSerializer) -> None:
        with audit_context(api_actor(self.request)), transaction.atomic():
            serializer.save()

    def perform_update(self, serializer: BaseSerializer) -> None:
        with audit_context(api_actor(self.request)), transaction.atomic():
            serializer.save()

    def perform_destroy(self, instance: Any) -> None:
        with audit_context(api_actor(self.request)), transaction.atomic():
            instance.delete()


class TenantModelViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    pass


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class BotViewSet(TenantModelViewSet):
    """Bots. A token that creates a bot reaches it from then on."""

    queryset = Bot.objects.all()
    serializer_class = serializers.BotSerializer
    lookup_field = "slug"
    filterset_fields = ["is_enabled", "default_mood"]
    ordering_fields = ["slug", "name", "created_at"]

    def perform_create(self, serializer: BaseSerializer) -> None:
        with audit_context(api_actor(self.request)), transaction.atomic():
            bot = serializer.save()
            if isinstance(self.request.auth, ApiToken):
                self.request.auth.bots.add(bot)


class BotMiddlewareViewSet(TenantModelViewSet):
    """A bot's middleware stack, in `position` order."""

    queryset = BotMiddleware.objects.select_related("bot")
    serializer_class = serializers.BotMiddlewareSerializer
    filterset_fields = ["bot", "kind", "is_enabled"]
    ordering_fields = ["position", "id"]


class ActionViewSet(TenantModelViewSet):
    queryset = Action.objects.select_related("bot")
    serializer_class = serializers.ActionSerializer
    filterset_fields = ["bot", "kind", "is_enabled"]
    ordering_fields = ["name", "created_at", "id"]


class CommandViewSet(TenantModelViewSet):
    queryset = Command.objects.select_related("bot")
    serializer_class = serializers.CommandSerializer
    filterset_fields = ["bot", "action", "word"]
    ordering_fields = ["word", "id"]


class PatternViewSet(TenantModelViewSet):
    queryset = Pattern.objects.select_related("bot")
    serializer_class = serializers.PatternSerializer
    filterset_fields = ["bot", "action", "is_enabled"]
    ordering_fields = ["priority", "id"]


class ResponseTemplateViewSet(TenantModelViewSet):
    queryset = ResponseTemplate.objects.select_related("bot")
    serializer_class = serializers.ResponseTemplateSerializer
    filterset_fields = ["bot", "key", "mood"]
    ordering_fields = ["key", "mood", "id"]


class RoomViewSet(TenantModelViewSet):
    queryset = Room.objects.select_related("bot")
    serializer_class = serializers.RoomSerializer
    filterset_fields = ["bot", "connector", "is_direct"]
    ordering_fields = ["created_at", "id"]


class ParticipantViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Participants come from conversations; integrators set their trust level and ignore them."""

    queryset = Participant.objects.select_related("bot")
    serializer_class = serializers.ParticipantSerializer
    filterset_fields = ["bot", "connector", "trust_level", "is_ignored"]
    ordering_fields = ["created_at", "last_seen_at", "id"]


class MessageViewSet(TenantReadOnlyViewSet):
    """Conversation history, oldest first, by cursor (`?room=`, `?participant=`, `?after=`)."""

    queryset = Message.objects.all()
    serializer_class = serializers.MessageSerializer
    filterset_class = MessageFilterSet
    pagination_class = MessageCursorPagination
    ordering_fields: list[str] = []


class MemoryEntryViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """What bots remember; entries are written by actions, read and deleted here."""

    queryset = MemoryEntry.objects.select_related("bot")
    serializer_class = serializers.MemoryEntrySerializer
    filterset_fields = ["bot", "room", "participant", "key"]
    ordering_fields = ["created_at", "id"]

    def perform_destroy(self, instance: Any) -> None:
        scope = MemoryScope(instance.bot_id, instance.room_id, instance.participant_id)
        super().perform_destroy(instance)
        # Reads are cached: drop the key so no process serves the deleted value.
        transaction.on_commit(lambda: _memory_cache_drop(scope, instance.key))


def _memory_cache_drop(scope: MemoryScope, key: str) -> None:
    cache.delete(scope.cache_key(key))


class PublisherViewSet(TenantModelViewSet):
    queryset = Publisher.objects.select_related("bot")
    serializer_class = serializers.PublisherSerializer
    filterset_fields = ["bot", "kind", "status", "is_enabled"]
    ordering_fields = ["slug", "name", "last_run_at", "id"]


class PostViewSet(TenantModelViewSet):
    queryset = Post.objects.all()
    serializer_class = serializers.PostSerializer
    filterset_fields = ["publisher"]
    ordering_fields = ["published_at", "created_at", "id"]


class SubscriptionViewSet(TenantModelViewSet):
    queryset = Subscription.objects.all()
    serializer_class = serializers.SubscriptionSerializer
    filterset_fields = ["publisher", "destination", "room", "is_active"]
    ordering_fields = ["created_at", "id"]


class DeliveryViewSet(TenantReadOnlyViewSet):
    queryset = Delivery.objects.all()
    serializer_class = serializers.DeliverySerializer
    filterset_fields = ["post", "subscription", "status"]
    ordering_fields = ["created_at", "id"]


class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own tokens. A token may create others only where staff allowed it, never
    wider than itself; DELETE revokes."""

    queryset = ApiToken.objects.all()
    serializer_class = serializers.ApiTokenSerializer
    ordering_fields = ["created_at", "id"]

    def get_queryset(self) -> Any:
        tokens = super().get_queryset().prefetch_related("bots")
        if isinstance(self.request.auth, ApiToken):
            return tokens.filter(user=self.request.user)
        return tokens

    @extend_schema(responses={201: serializers.ApiTokenCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parent = request.auth if isinstance(request.auth, ApiToken) else None
        with audit_context(api_actor(request)):
            token, secret = api_token_create(
                name=data["name"],
                user=request.user,
                bots=data["bots"],
                scope=data["scope"],
                expires_at=data.get("expires_at"),
                created_by=parent,
            )
        token.token = secret  # type: ignore[attr-defined]
        body = serializers.ApiTokenCreatedSerializer(token, context=self.get_serializer_context())
        return Response(body.data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        with audit_context(api_actor(self.request)):
            api_token_revoke(token=instance)
