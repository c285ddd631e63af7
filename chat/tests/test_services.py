import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from actions.models import ActionRun, ResponseTemplate
from chat.messages import message_receive
from conversations import services
from conversations.exceptions import BotNotFound
from conversations.models import BotMiddleware, Message, Participant, Room
from conversations.tests.factories import BotFactory, RoomFactory, inbound_message

inbound = inbound_message


def test_a_command_is_stored_with_its_trace_and_queues_one_run(
    demo_bot, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        receipt = message_receive(inbound=inbound("!help"))

    message = Message.objects.get(pk=receipt.message.id)
    assert message.text == "!help"
    assert message.participant.display_name == "Ada"
    assert message.room.is_direct
    assert message.trace[-1]["action"] == "help"
    run = ActionRun.objects.get(message=message)
    assert (run.action_name, run.status) == ("help", ActionRun.Status.PENDING)
    assert receipt.queued_runs == 1
    assert len(callbacks) == 1, "the run is enqueued only once the transaction commits"


def test_a_reply_decided_by_the_engine_is_stored_as_a_bot_message(demo_bot):
    receipt = message_receive(inbound=inbound("!dance"))

    [reply] = receipt.replies
    stored = Message.objects.get(pk=reply.id)
    assert stored.sender_kind == Message.SenderKind.BOT
    assert stored.reply_to_id == receipt.message.id
    assert stored.text == "I don't know !dance. Try !help."
    assert not ActionRun.objects.exists()


def test_a_resent_client_id_is_stored_and_answered_once(demo_bot):
    client_id = uuid.uuid4()

    first = message_receive(inbound=inbound("!help", client_id=client_id))
    again = message_receive(inbound=inbound("!help", client_id=client_id))

    assert again.is_duplicate
    assert again.message.id == first.message.id
    assert Message.objects.count() == 1
    assert ActionRun.objects.count() == 1


def test_the_same_identity_reuses_its_room_and_participant(demo_bot):
    message_receive(inbound=inbound("hello"))
    message_receive(inbound=inbound("again"))

    assert Room.objects.count() == 1
    assert Participant.objects.count() == 1
    assert Participant.objects.get().last_seen_at is not None


def test_an_ignored_participants_message_is_stored_but_not_answered(demo_bot):
    message_receive(inbound=inbound("hello"))
    Participant.objects.update(is_ignored=True)

    receipt = message_receive(inbound=inbound("!help"))

    assert receipt.replies == []
    assert receipt.queued_runs == 0
    assert Message.objects.get(pk=receipt.message.id).trace[-1]["result"] == "dropped"


def test_a_configuration_change_counts_from_the_next_message(demo_bot):
    demo_bot.command_prefix = "?"
    demo_bot.save()

    receipt = message_receive(inbound=inbound("?help"))

    assert receipt.queued_runs == 1


@pytest.mark.parametrize("slug", ["nobody", "demo"])
def test_unknown_or_disabled_bots_are_refused_and_nothing_is_stored(demo_bot, slug):
    demo_bot.is_enabled = False
    demo_bot.save()

    with pytest.raises(BotNotFound):
        message_receive(inbound=inbound("!help", bot_slug=slug))

    assert not Message.objects.exists()


def test_staff_templates_answer_in_the_rooms_mood(demo_bot):
    ResponseTemplate.objects.create(
        bot=demo_bot, key="unknown_command", mood="grumpy", text="{command}? No, {participant}."
    )
    ResponseTemplate.objects.create(
        bot=demo_bot, key="unknown_command", mood="", text="Sorry {participant}, no {command}."
    )

    cheerful = message_receive(inbound=inbound("!dance"))
    Room.objects.update(mood="grumpy")
    grumpy = message_receive(inbound=inbound("!dance"))

    assert cheerful.replies[0].text == "Sorry Ada, no !dance."
    assert grumpy.replies[0].text == "!dance? No, Ada."


def test_a_template_with_code_in_it_is_refused_at_save(db):
    with pytest.raises(ValidationError) as caught:
        ResponseTemplate(bot=BotFactory(), key="x", text="{participant.user.password}").full_clean()

    assert "is not a placeholder" in caught.value.message_dict["text"][0]


def test_cheap_pure_actions_answer_at_once_without_a_worker(demo_bot):
    receipt = message_receive(inbound=inbound("!ping"))

    assert [reply.text for reply in receipt.replies] == ["pong"]
    assert receipt.queued_runs == 0
    step = Message.objects.get(pk=receipt.message.id).trace[-1]
    assert (step["stage"], step["action"], step["where"]) == ("execute", "ping", "inline")


def test_actions_with_io_go_to_the_worker(demo_bot):
    receipt = message_receive(inbound=inbound("!latest-post"))

    assert receipt.replies == []
    assert receipt.queued_runs == 1
    assert Message.objects.get(pk=receipt.message.id).trace[-1]["where"] == "worker"


def test_a_cheap_action_queues_behind_a_pending_reply_to_keep_the_order(demo_bot):
    message_receive(inbound=inbound("!latest-post"))

    receipt = message_receive(inbound=inbound("!ping"))

    assert receipt.replies == []
    assert list(ActionRun.objects.order_by("id").values_list("action_name", flat=True)) == [
        "latest-post",
        "ping",
    ]


def test_the_rate_limit_takes_from_a_bucket_in_the_shared_cache(demo_bot):
    BotMiddleware.objects.create(
        bot=demo_bot,
        kind="rate_limit",
        config={"participant_per_minute": 1, "burst": 2},
        position=1,
    )

    receipts = [message_receive(inbound=inbound("!ping")) for _ in range(4)]

    assert [[reply.text for reply in receipt.replies] for receipt in receipts] == [
        ["pong"],
        ["pong"],
        [
            "You are sending messages faster than I take them (1 a minute); "
            "I'm skipping some for a moment."
        ],
        [],
    ]
    assert Message.objects.filter(sender_kind="participant").count() == 4, "all are kept"


def test_retention_expires_the_message_and_its_replies_and_the_purge_removes_them(demo_bot):
    BotMiddleware.objects.create(bot=demo_bot, kind="retention", config={"days": 1}, position=1)

    receipt = message_receive(inbound=inbound("!ping"))

    stored = Message.objects.filter(pk__in=[receipt.message.id, receipt.replies[0].id])
    assert all(m.expires_at is not None for m in stored)
    assert services.messages_expired_purge() == 0
    Message.objects.update(expires_at=timezone.now())
    assert services.messages_expired_purge() == 2


def test_a_message_is_stamped_by_the_database_clock_whoever_writes_it(db):
    """Servers and workers on several hosts write messages, and the catch-up compares
    their times: the stamp comes from one clock, the database's, also for a writer that
    does not give one (another host's process, the previous release, raw SQL)."""
    room = RoomFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO conversations_message (room_id, sender_kind, text, html, trace)"
            " VALUES (%s, 'bot', 'from elsewhere', '', '[]')",
            [room.pk],
        )
    stored = Message.objects.get(text="from elsewhere")
    assert abs(stored.created_at - timezone.now()) < timedelta(seconds=5)

    via_orm = Message.objects.create(room=room, sender_kind="bot", text="here")
    assert via_orm.created_at == Message.objects.get(pk=via_orm.pk).created_at
