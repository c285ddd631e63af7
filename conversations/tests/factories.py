from datetime import datetime

import factory
from django.db import connection

from conversations.models import Bot, Message, Participant, Room
from engine.messages import InboundMessage


class BotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bot
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"bot-{n}")
    name = factory.Sequence(lambda n: f"Bot {n}")
    names = factory.LazyFunction(lambda: ["hey bot"])


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    bot = factory.SubFactory(BotFactory)
    connector = "webchat"
    external_id = factory.Sequence(lambda n: f"room-{n}")
    is_direct = True


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    bot = factory.SubFactory(BotFactory)
    connector = "webchat"
    external_id = factory.Sequence(lambda n: f"visitor:{n}")
    display_name = factory.Sequence(lambda n: f"Visitor {n}")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    room = factory.SubFactory(RoomFactory)
    sender_kind = Message.SenderKind.PARTICIPANT
    participant = factory.SubFactory(ParticipantFactory, bot=factory.SelfAttribute("..room.bot"))
    text = "hello"


def inbound_message(text: str, **overrides: object) -> InboundMessage:
    """A web chat message to the demo bot from visitor Ada in her one-to-one room."""
    values: dict[str, object] = {
        "bot_slug": "demo",
        "connector": "webchat",
        "room_external_id": "visitor:ada",
        "participant_external_id": "visitor:ada",
        "participant_name": "Ada",
        "text": text,
        "is_direct": True,
    }
    values.update(overrides)
    return InboundMessage(**values)  # type: ignore[arg-type]


def bot_admin_form(**changes: object) -> dict[str, object]:
    """What the admin's bot page posts (give at least name and slug), no middleware inline."""
    return {
        "is_enabled": "on",
        "command_prefix": "!",
        "names": "",
        "default_mood": "neutral",
        "fallback_text": "",
        "batch_window_ms": 0,
        "pending_timeout_seconds": 300,
        "allowed_origins": "",
        "middleware_stack-TOTAL_FORMS": 0,
        "middleware_stack-INITIAL_FORMS": 0,
        **changes,
    }


def messages_insert(
    room: Room, participant: Participant, count: int, *, expires_at: datetime | None = None
) -> None:
    """`count` messages from `participant` in `room`, a busy bot's history, written by the
    database itself (PostgreSQL only; building as many model instances would take minutes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Message._meta.db_table}"  # noqa: S608 (the table's own name)
            " (room_id, participant_id, sender_kind, text, html, trace, expires_at)"
            " SELECT %s, %s, %s, 'message ' || n, '', '[]'::jsonb, %s"
            " FROM generate_series(1, %s) AS n",
            [room.pk, participant.pk, Message.SenderKind.PARTICIPANT, expires_at, count],
        )
