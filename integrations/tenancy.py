"""Which rows a caller may see: a token sees its bots and everything under them, staff all."""

from typing import Any

from django.db import models
from rest_framework.request import Request

from actions.models import Action, ActionRun, Command, Pattern, ResponseTemplate
from conversations.models import (
    Bot,
    BotMiddleware,
    Connector,
    MemoryEntry,
    Message,
    Participant,
    Room,
)
from integrations.models import ApiToken, EventDelivery, EventHook
from integrations.services import api_token_bot_ids
from publishers.models import Delivery, Post, Publisher, PublisherRun, Subscription
from webhooks.models import WebhookEndpoint

#: The path from each model to its bot, the tenant key of everything below it.
BOT_PATHS: dict[type[models.Model], str] = {
    Bot: "pk",
    BotMiddleware: "bot",
    Connector: "bot",
    Action: "bot",
    ActionRun: "bot",
    Command: "bot",
    Pattern: "bot",
    ResponseTemplate: "bot",
    Room: "bot",
    Participant: "bot",
    MemoryEntry: "bot",
    Message: "room__bot",
    Publisher: "bot",
    PublisherRun: "publisher__bot",
    WebhookEndpoint: "bot",
    EventHook: "endpoint__bot",
    EventDelivery: "hook__endpoint__bot",
    Post: "publisher__bot",
    Subscription: "publisher__bot",
    Delivery: "subscription__publisher__bot",
}


def visible_bot_ids(request: Request) -> list[int] | None:
    """The bots a caller may reach; None means all of them (staff)."""
    if isinstance(request.auth, ApiToken):
        return api_token_bot_ids(token=request.auth)
    if request.user is not None and request.user.is_staff:
        return None
    return []


def tenant_scope(queryset: models.QuerySet[Any], request: Request) -> models.QuerySet[Any]:
    """Only the rows under the caller's bots; a model without a bot path is refused."""
    bot_ids = visible_bot_ids(request)
    if bot_ids is None:
        return queryset
    path = BOT_PATHS[queryset.model]
    return queryset.filter(**{f"{path}__in": bot_ids})
