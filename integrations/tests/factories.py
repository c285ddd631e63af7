from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from actions.models import Action, Command, Pattern, ResponseTemplate
from conversations.models import (
    Bot,
    BotMiddleware,
    Connector,
    MemoryEntry,
    Message,
    Participant,
    Room,
)
from conversations.tests.factories import (
    BotFactory,
    MessageFactory,
    ParticipantFactory,
    RoomFactory,
)
from integrations.models import ApiToken, EventDelivery, EventHook
from integrations.services import api_token_create
from publishers.models import Delivery, Post, Publisher, Subscription
from webhooks.models import WebhookEndpoint


def token_make(bots: list[Bot], *, scope: str = "write", **options: Any) -> tuple[ApiToken, str]:
    """A token for `bots`, owned by a fresh integrator account; returns it and its secret."""
    user = get_user_model().objects.create_user(
        username=f"integrator-{ApiToken.objects.count()}-{bots[0].slug if bots else 'none'}"
    )
    return api_token_create(name="test", user=user, bots=bots, scope=scope, **options)


@dataclass
class Tenant:
    """One bot with one of everything under it, as an integrator's tenant."""

    bot: Bot
    middleware: BotMiddleware
    connector: Connector
    action: Action
    command: Command
    pattern: Pattern
    response_template: ResponseTemplate
    room: Room
    participant: Participant
    message: Message
    memory_entry: MemoryEntry
    publisher: Publisher
    post: Post
    subscription: Subscription
    delivery: Delivery
    webhook_endpoint: WebhookEndpoint
    event_hook: EventHook
    event_delivery: EventDelivery
    token: ApiToken
    secret: str


def tenant_make(slug: str) -> Tenant:
    bot = BotFactory(slug=slug, name=slug.title())
    action = Action.objects.create(bot=bot, name="greet", kind="say", config={"text": "Hi!"})
    room = RoomFactory(bot=bot)
    participant = ParticipantFactory(bot=bot)
    publisher = Publisher.objects.create(bot=bot, slug="news", name="News", kind="manual")
    post = Post.objects.create(publisher=publisher, source_id="1", title="First")
    subscription = Subscription.objects.create(publisher=publisher, destination="room", room=room)
    token, secret = token_make([bot], may_create_tokens=True)
    endpoint = WebhookEndpoint.objects.create(
        bot=bot, url=f"https://{slug}.example.com/hook", secret="whsec_test"
    )
    hook = EventHook.objects.create(endpoint=endpoint, events=["reply.sent"])
    return Tenant(
        bot=bot,
        middleware=BotMiddleware.objects.create(bot=bot, kind="ignore_list"),
        connector=Connector.objects.create(
            bot=bot, kind="irc", name="net", config={"host": "127.0.0.1", "nick": "bot"}
        ),
        action=action,
        command=Command.objects.create(bot=bot, word="greet", action=action),
        pattern=Pattern.objects.create(bot=bot, action=action, regex=r"hello"),
        response_template=ResponseTemplate.objects.create(bot=bot, key="greet", text="Hi!"),
        room=room,
        participant=participant,
        message=MessageFactory(room=room, participant=participant),
        memory_entry=MemoryEntry.objects.create(bot=bot, key="colour", value="blue"),
        publisher=publisher,
        post=post,
        subscription=subscription,
        delivery=Delivery.objects.create(post=post, subscription=subscription),
        webhook_endpoint=endpoint,
        event_hook=hook,
        event_delivery=EventDelivery.objects.create(
            hook=hook, event_type="reply.sent", object_key="1", payload={}
        ),
        token=token,
        secret=secret,
    )


def token_expired(bot: Bot) -> str:
    token, secret = token_make([bot])
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return secret
