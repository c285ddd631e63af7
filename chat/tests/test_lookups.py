"""The hand-written conversation lookup gives what the ORM would, on either database."""

import uuid
from dataclasses import replace
from datetime import timedelta

from django.utils import timezone

from actions.models import ActionRun, PendingAction
from actions.tests.factories import ActionFactory
from chat.lookups import ConversationKey, conversation_row_get, conversation_rows_get
from chat.messages import message_receive
from conversations.models import Bot, Message, Participant, Room
from conversations.tests.factories import inbound_message


def _lookup(client_id=None, participant="visitor:ada"):
    return conversation_row_get(
        bot_slug="demo",
        connector="webchat",
        room_external_id="visitor:ada",
        participant_external_id=participant,
        client_id=client_id,
    )


def _same(instance, model):
    loaded = model.objects.get(pk=instance.pk)
    fields = [field.attname for field in model._meta.concrete_fields]
    assert {name: getattr(instance, name) for name in fields} == {
        name: getattr(loaded, name) for name in fields
    }


def test_rows_become_the_instances_the_orm_would_load(demo_bot):
    client_id = uuid.uuid4()
    receipt = message_receive(inbound=inbound_message("!ping", client_id=client_id))
    Bot.objects.filter(pk=demo_bot.pk).update(
        names=["demo", "bot"], allowed_origins=["https://a.example"]
    )

    row = _lookup(client_id=client_id)

    _same(row.bot, Bot)
    _same(row.room, Room)
    _same(row.participant, Participant)
    assert isinstance(row.bot.config_version, uuid.UUID)
    assert row.bot.names == ["demo", "bot"]
    assert row.room.bot is row.bot, "the room's bot needs no second query"
    assert row.duplicate_id == receipt.message.id
    assert (row.has_backlog, row.has_pending) == (False, False)


def test_unknown_places_and_people_have_no_row_or_no_participant(demo_bot):
    assert _lookup() is None
    message_receive(inbound=inbound_message("!ping"))

    row = _lookup(participant="visitor:bob")

    assert row is not None
    assert row.participant is None
    assert _lookup(client_id=uuid.uuid4()).duplicate_id is None


def test_backlog_and_open_questions_are_seen(demo_bot):
    receipt = message_receive(inbound=inbound_message("!ping"))
    message = Message.objects.get(pk=receipt.message.id)
    action = ActionFactory(bot=demo_bot)
    run = ActionRun.objects.create(
        bot=demo_bot, room=message.room, participant=message.participant, action=action,
        action_name=action.name, message=message, run_after=timezone.now(),
    )  # fmt: skip
    pending = PendingAction.objects.create(
        room=message.room, participant=message.participant, action=action,
        missing_argument="note", expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip

    row = _lookup()
    assert (row.has_backlog, row.has_pending) == (True, True)

    ActionRun.objects.filter(pk=run.pk).update(status=ActionRun.Status.SUCCEEDED)
    PendingAction.objects.filter(pk=pending.pk).update(expires_at=timezone.now())
    row = _lookup()
    assert (row.has_backlog, row.has_pending) == (False, False)


def test_many_keys_are_found_in_one_statement_in_their_order(demo_bot, django_assert_num_queries):
    client_id = uuid.uuid4()
    stored = message_receive(inbound=inbound_message("!ping", client_id=client_id))
    message_receive(inbound=inbound_message("hi", room_external_id="visitor:bob"))
    key = ConversationKey("demo", "webchat", "visitor:ada", "visitor:ada", None)
    keys = [
        replace(key, room_external_id="visitor:bob"),
        replace(key, room_external_id="visitor:nobody"),
        replace(key, client_id=client_id),
        key,
    ]

    with django_assert_num_queries(1):
        bob, nobody, resend, ada = conversation_rows_get(keys)

    assert nobody is None
    assert bob.room.external_id == "visitor:bob"
    assert bob.room.pk != ada.room.pk
    assert (resend.duplicate_id, ada.duplicate_id) == (stored.message.id, None)
    assert conversation_rows_get([key, key])[1].room.pk == ada.room.pk, "no client ids at all"
