from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from integrations import api
from integrations.conversation import BotMessagesView

router = DefaultRouter()
router.register("bots", api.BotViewSet, basename="bot")
router.register("middleware", api.BotMiddlewareViewSet, basename="middleware")
router.register("connectors", api.ConnectorViewSet, basename="connector")
router.register("actions", api.ActionViewSet, basename="action")
router.register("commands", api.CommandViewSet, basename="command")
router.register("patterns", api.PatternViewSet, basename="pattern")
router.register("response-templates", api.ResponseTemplateViewSet, basename="response-template")
router.register("rooms", api.RoomViewSet, basename="room")
router.register("participants", api.ParticipantViewSet, basename="participant")
router.register("messages", api.MessageViewSet, basename="message")
router.register("memory-entries", api.MemoryEntryViewSet, basename="memory-entry")
router.register("publishers", api.PublisherViewSet, basename="publisher")
router.register("posts", api.PostViewSet, basename="post")
router.register("subscriptions", api.SubscriptionViewSet, basename="subscription")
router.register("deliveries", api.DeliveryViewSet, basename="delivery")
router.register("webhook-endpoints", api.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("event-hooks", api.EventHookViewSet, basename="event-hook")
router.register("event-deliveries", api.EventDeliveryViewSet, basename="event-delivery")
router.register("tokens", api.ApiTokenViewSet, basename="token")


class NotFoundView(APIView):
    """Unknown paths under /api/ answer in the API's error shape, not an HTML page."""

    permission_classes: list[type] = []
    authentication_classes: list[type] = []
    throttle_classes: list[type] = []

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        raise NotFound("There is no such API path.")


app_name = "api"
urlpatterns = [
    path(
        "v1/bots/<slug:bot_slug>/messages/",
        BotMessagesView.as_view(),
        name="bot-messages",
    ),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[]),
        name="docs",
    ),
    re_path(r"^[\s\S]*$", NotFoundView.as_view()),
]
