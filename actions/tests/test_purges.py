"""Retention purges delete any backlog: in batches, since one PostgreSQL statement binds at
most 65,535 parameters and Django's delete collector binds every id it collected."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from actions.models import ActionRun
from conversations import services
from conversations.models import Message
from conversations.tests.factories import (
    MessageFactory,
    ParticipantFactory,
    RoomFactory,
    messages_insert,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the 65,535-parameter limit is PostgreSQL's; CI's second pass runs this")


# Seconds on an idle machine, minutes on a busy shared one: more than the suite's timeout.
@pytest.mark.timeout(900)
def test_the_purge_deletes_200000_expired_messages_and_keeps_the_unexpired(postgresql):
    room = RoomFactory()
    participant = ParticipantFactory(bot=room.bot)
    past = timezone.now() - timedelta(hours=1)
    messages_insert(room, participant, 200_000, expires_at=past)
    expired = Message.objects.filter(room=room).order_by("id").first()
    later = MessageFactory(
        room=room, participant=participant, expires_at=timezone.now() + timedelta(days=1)
    )
    reply = MessageFactory(room=room, participant=participant, reply_to=expired)
    run = ActionRun.objects.create(
        bot=room.bot, room=room, participant=participant, action_name="ping", message=expired
    )

    assert services.messages_expired_purge() == 200_000

    assert set(Message.objects.values_list("pk", flat=True)) == {later.pk, reply.pk}
    reply.refresh_from_db()
    run.refresh_from_db()
    assert reply.reply_to is None, "a reply outlives the message it answered"
    assert run.message is None, "a run outlives the message that caused it"
