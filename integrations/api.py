"""The integrators' REST API: every admin model, scoped to the caller's bots."""

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from actions.models import Action, Command, Pattern, ResponseTemplate
from actions.services import bot_defaults_install
from botsite.db import instance_delete
from conversations.models import (
    Bot,
    BotMiddleware,
    Connector,
    MemoryEntry,
    Message,
    Participant,
    Room,
)
from conversations.services import memory_entries_changed
from conversations.services.connectors import connector_probe, connector_secret_set
from integrations import serializers
from integrations.audit import api_actor, audit_context
from integrations.events import event_deliveries_retry, event_hook_create
from integrations.filters import MessageFilterSet
from integrations.models import ApiToken, EventDelivery, EventHook
from integrations.pagination import MessageCursorPagination
from integrations.services import api_token_create, api_token_revoke
from integrations.tenancy import tenant_scope
from publishers import services as publisher_service
from publishers.deliveries import deliveries_retry
from publishers.models import Delivery, Post, Publisher, Subscription
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create, webhook_endpoint_secret_rotate


class TenantViewSetMixin:
    """Rows of the caller's bots only (another tenant's id is a 404); every write audited."""

    request: Request
    # Ids past 64 bits are no row of ours; refusing them in the URL keeps them from the database.
    lookup_value_regex = r"[0-9]{1,18}"

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
            instance_delete(instance)


class TenantModelViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    pass


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class BotViewSet(TenantModelViewSet):
    """Bots. A token that creates a bot reaches it from then on."""

    queryset = Bot.objects.all()
    serializer_class = serializers.BotSerializer
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,50}"
    filterset_fields = ["is_enabled", "default_mood"]
    ordering_fields = ["slug", "name", "created_at"]

    def perform_create(self, serializer: BaseSerializer) -> None:
        with audit_context(api_actor(self.request)), transaction.atomic():
            bot = serializer.save()
            bot_defaults_install(bot=bot)
            if isinstance(self.request.auth, ApiToken):
                self.request.auth.bots.add(bot)


class BotMiddlewareViewSet(TenantModelViewSet):
    """A bot's middleware stack, in `position` order."""

    queryset = BotMiddleware.objects.select_related("bot")
    serializer_class = serializers.BotMiddlewareSerializer
    filterset_fields = ["bot", "kind", "is_enabled"]
    ordering_fields = ["position", "id"]


class ConnectorViewSet(TenantModelViewSet):
    """A bot's accounts on networks held by the bridge (IRC), with the state it reports."""

    queryset = Connector.objects.select_related("bot")
    serializer_class = serializers.ConnectorSerializer
    filterset_fields = ["bot", "kind", "is_enabled", "status"]
    ordering_fields = ["name", "id"]

    def perform_create(self, serializer: BaseSerializer) -> None:
        self._save(serializer)

    def perform_update(self, serializer: BaseSerializer) -> None:
        self._save(serializer)

    def _save(self, serializer: BaseSerializer) -> None:
        password = serializer.validated_data.pop("password", None)
        with audit_context(api_actor(self.request)), transaction.atomic():
            connector = serializer.save()
            if password is not None:
                connector_secret_set(connector=connector, secret=password)

    @extend_schema(request=None, responses={200: serializers.ConnectionTestSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str) -> Response:
        """Connect to the network with the stored settings and password, and leave at once
        (the admin's "Test connection"); takes up to 10 s."""
        result = connector_probe(self.get_object())
        return Response({"connected": result.is_connected, "detail": result.detail})


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
        super().perform_destroy(instance)
        # Reads are cached, and custom commands are part of the bot's snapshot.
        memory_entries_changed([instance])


class PublisherViewSet(TenantModelViewSet):
    """Publishers; saving one keeps its beat schedule in step, as in the admin."""

    queryset = Publisher.objects.select_related("bot")
    serializer_class = serializers.PublisherSerializer
    filterset_fields = ["bot", "kind", "status", "is_enabled"]
    ordering_fields = ["slug", "name", "last_run_at", "id"]

    def perform_create(self, serializer: BaseSerializer) -> None:
        self._save(serializer)

    def perform_update(self, serializer: BaseSerializer) -> None:
        self._save(serializer)

    def _save(self, serializer: BaseSerializer) -> None:
        publisher = serializer.instance or Publisher()
        for name, value in serializer.validated_data.items():
            setattr(publisher, name, value)
        with audit_context(api_actor(self.request)):
            serializer.instance = publisher_service.publisher_save(publisher=publisher)

    def perform_destroy(self, instance: Publisher) -> None:
        with audit_context(api_actor(self.request)):
            publisher_service.publishers_delete(publishers=Publisher.objects.filter(pk=instance.pk))

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"], url_path="publish-now")
    def publish_now(self, request: Request, pk: str) -> Response:
        """Fetch the publisher now, on a worker (the admin's "Publish now")."""
        publisher_service.publisher_run_now(publisher=self.get_object())
        return Response(status=status.HTTP_202_ACCEPTED)


class PostViewSet(TenantModelViewSet):
    """Posts; one created here is fanned out to the subscribers as in the admin: at once, or
    at its `published_at` when that is in the future."""

    queryset = Post.objects.all()
    serializer_class = serializers.PostSerializer
    filterset_fields = ["publisher"]
    ordering_fields = ["published_at", "created_at", "id"]

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        with audit_context(api_actor(self.request)):
            serializer.instance = publisher_service.post_create(
                publisher=data["publisher"],
                title=data["title"],
                body=data.get("body", ""),
                link=data.get("link", ""),
                tags=data.get("tags", []),
                published_at=data.get("published_at"),
            )


class SubscriptionViewSet(TenantModelViewSet):
    queryset = Subscription.objects.all()
    serializer_class = serializers.SubscriptionSerializer
    filterset_fields = ["publisher", "destination", "room", "endpoint", "is_active"]
    ordering_fields = ["created_at", "id"]

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        with audit_context(api_actor(self.request)):
            serializer.instance, _ = publisher_service.subscription_create(
                publisher=data["publisher"],
                destination=data["destination"],
                room=data.get("room"),
                email=data.get("email", ""),
                endpoint=data.get("endpoint"),
                participant=data.get("participant"),
                tag=data.get("tag", ""),
            )


class DeliveryViewSet(TenantReadOnlyViewSet):
    queryset = Delivery.objects.all()
    serializer_class = serializers.DeliverySerializer
    filterset_fields = ["post", "subscription", "status"]
    ordering_fields = ["created_at", "id"]

    @extend_schema(request=None, responses={202: serializers.CountSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        """Send a failed or dead delivery again now; count 0 when it is not failed."""
        delivery = self.get_object()
        with audit_context(api_actor(request)):
            count = deliveries_retry(deliveries=Delivery.objects.filter(pk=delivery.pk))
        return Response({"count": count}, status=status.HTTP_202_ACCEPTED)


class WebhookEndpointViewSet(TenantModelViewSet):
    """Where signed webhooks go: subscriptions' posts, room callbacks, integrator events.
    The signing secret is shown once, on create and on rotate-secret."""

    queryset = WebhookEndpoint.objects.select_related("bot")
    serializer_class = serializers.WebhookEndpointSerializer
    filterset_fields = ["bot", "is_enabled"]
    ordering_fields = ["created_at", "id"]

    @extend_schema(responses={201: serializers.WebhookEndpointCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with audit_context(api_actor(request)):
            endpoint, secret = webhook_endpoint_create(
                url=data["url"],
                owner_email=data.get("owner_email", ""),
                bot=data.get("bot"),
                description=data.get("description", ""),
            )
        endpoint.secret = secret
        body = serializers.WebhookEndpointCreatedSerializer(
            endpoint, context=self.get_serializer_context()
        )
        return Response(body.data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: serializers.SecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new signing secret, shown this once; the old one stops at once."""
        with audit_context(api_actor(request)):
            secret = webhook_endpoint_secret_rotate(endpoint=self.get_object())
        return Response({"secret": secret})


class EventHookViewSet(TenantModelViewSet):
    """Integrator events (message.received, reply.sent, delivery.failed, publisher.failing)
    pushed to a webhook endpoint of the bot, in order; with a room, only that room's."""

    queryset = EventHook.objects.select_related("endpoint")
    serializer_class = serializers.EventHookSerializer
    filterset_fields = ["endpoint", "room", "is_enabled"]
    ordering_fields = ["created_at", "id"]

    def perform_create(self, serializer: BaseSerializer) -> None:
        data = serializer.validated_data
        with audit_context(api_actor(self.request)):
            serializer.instance = event_hook_create(
                endpoint=data["endpoint"], events=data["events"], room=data.get("room")
            )


class EventDeliveryViewSet(TenantReadOnlyViewSet):
    queryset = EventDelivery.objects.all()
    serializer_class = serializers.EventDeliverySerializer
    filterset_fields = ["hook", "event_type", "status"]
    ordering_fields = ["id"]

    @extend_schema(request=None, responses={202: serializers.CountSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        """Send a dead event again, after the hook's pending ones; count 0 when not dead."""
        delivery = self.get_object()
        with audit_context(api_actor(request)):
            count = event_deliveries_retry(deliveries=EventDelivery.objects.filter(pk=delivery.pk))
        return Response({"count": count}, status=status.HTTP_202_ACCEPTED)


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
    lookup_value_regex = r"[0-9]{1,18}"
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
                scope=data.get("scope", ApiToken.Scope.READ),
                expires_at=data.get("expires_at"),
                created_by=parent,
            )
        token.token = secret  # type: ignore[attr-defined]
        body = serializers.ApiTokenCreatedSerializer(token, context=self.get_serializer_context())
        return Response(body.data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiToken) -> None:
        with audit_context(api_actor(self.request)):
            api_token_revoke(token=instance)
