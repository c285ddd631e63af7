import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from actions.models import ActionRun
from botsite.db import deletion_summary, instance_delete, queryset_delete
from conversations.models import Bot, MemoryEntry, Message, Participant, Room
from conversations.tests.factories import (
    BotFactory,
    MessageFactory,
    ParticipantFactory,
    RoomFactory,
)
from integrations.audit import AuditActor, audit_context
from integrations.models import AuditEntry

pytestmark = pytest.mark.django_db

IN_LIST = re.compile(r" IN \(([^()]*)\)")


def history_make(bot: Bot) -> None:
    """Two rooms and three participants of `bot`, each participant with messages in both
    rooms, some answering others, and what hangs off them."""
    rooms = [RoomFactory(bot=bot) for _ in range(2)]
    for participant in (ParticipantFactory(bot=bot) for _ in range(3)):
        for room in rooms:
            first = MessageFactory(room=room, participant=participant)
            MessageFactory(room=room, participant=participant, reply_to=first)
            MemoryEntry.objects.create(bot=bot, room=room, participant=participant, key="k")
            ActionRun.objects.create(
                bot=bot, room=room, participant=participant, action_name="ping", message=first
            )


def test_a_delete_goes_in_batches_with_all_that_cascades_and_counts_it():
    bot, other = BotFactory(), BotFactory()
    history_make(bot)
    history_make(other)

    with CaptureQueriesContext(connection) as queries:
        deleted = queryset_delete(Bot.objects.filter(pk=bot.pk), batch_size=4)

    assert deleted == {
        "conversations.Bot": 1,
        "conversations.Room": 2,
        "conversations.Participant": 3,
        "conversations.Message": 12,
        "conversations.MemoryEntry": 6,
        "actions.ActionRun": 6,
    }
    assert not Message.objects.filter(room__bot=bot).exists()
    assert Message.objects.filter(room__bot=other).count() == 12, "another bot keeps its own"
    bound = [len(ids.split(",")) for query in queries for ids in IN_LIST.findall(query["sql"])]
    assert max(bound) <= 4, "no statement binds more ids than a batch"


def test_the_summary_counts_each_row_that_would_go_once():
    bot = BotFactory()
    history_make(bot)
    history_make(BotFactory())

    summary = deletion_summary(Bot.objects.filter(pk=bot.pk))

    assert summary == {Bot: 1, Room: 2, Participant: 3, Message: 12, MemoryEntry: 6, ActionRun: 6}


def test_a_reference_that_is_set_null_survives_the_rows_it_named():
    room = RoomFactory()
    participant = ParticipantFactory(bot=room.bot)
    question = MessageFactory(room=room, participant=participant)
    answer = MessageFactory(room=RoomFactory(bot=room.bot), participant=participant)
    answer.reply_to = question
    answer.save()
    run = ActionRun.objects.create(
        bot=room.bot, room=answer.room, participant=participant, action_name="ping"
    )

    queryset_delete(Room.objects.filter(pk=room.pk), batch_size=1)
    instance_delete(participant)

    run.refresh_from_db()
    assert run.participant is None
    assert not Message.objects.exists(), "the participant's messages went with them"


def test_deleting_one_history_row_is_logged_as_asked_for_and_its_cascade_is_not():
    message = MessageFactory()
    with audit_context(AuditActor(source="api")):
        instance_delete(message)
        instance_delete(message.room.bot)

    logged = set(AuditEntry.objects.values_list("model", flat=True))
    assert logged == {"conversations.message", "conversations.bot", "conversations.room",
                      "conversations.participant"}  # fmt: skip
