"""Group commit: many messages received together, each answered as if it came alone."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from actions.models import ActionRun
from botsite.demo import demo_install
from conversations import services
from conversations.exceptions import BotNotFound
from conversations.models import Message
from conversations.tests.factories import inbound_message
from conversations.tests.test_consumers import connect, greet


def from_visitor(n: int, text: str, **overrides):
    visitor = f"visitor:{n}"
    return inbound_message(
        text, room_external_id=visitor, participant_external_id=visitor, **overrides
    )


def _queries_to_receive(count: int) -> int:
    inbounds = [from_visitor(n, "!ping") for n in range(count)]
    services.messages_receive(inbounds=inbounds)  # first contact creates rooms one by one
    with CaptureQueriesContext(connection) as queries:
        receipts = services.messages_receive(inbounds=inbounds)
    assert [receipt.replies[0].text for receipt in receipts] == ["pong"] * count
    return len(queries)


def test_the_database_work_of_a_batch_does_not_grow_with_its_size(demo_bot):
    assert _queries_to_receive(12) == _queries_to_receive(2)


def test_each_message_of_a_batch_gets_its_own_receipt_in_order(demo_bot):
    inbounds = [from_visitor(n, text) for n, text in enumerate(["!ping", "!latest-post", "hi"])]

    ping, latest, hello = services.messages_receive(inbounds=inbounds)

    assert [ping.message.text, latest.message.text, hello.message.text] == [
        "!ping",
        "!latest-post",
        "hi",
    ]
    assert [reply.text for reply in ping.replies] == ["pong"]
    assert (latest.replies, latest.queued_runs, latest.is_bot_working) == ([], 1, True)
    stored = Message.objects.get(pk=ping.replies[0].id)
    assert (stored.reply_to_id, stored.room_id) == (ping.message.id, ping.message.room_id)
    assert ping.message.room_id != latest.message.room_id
    assert ActionRun.objects.get().message_id == latest.message.id


def test_messages_to_one_room_are_taken_in_turn(demo_bot):
    inbounds = [inbound_message("!latest-post"), inbound_message("!ping")]

    latest, ping = services.messages_receive(inbounds=inbounds)

    assert ping.message.id > latest.message.id
    assert ping.replies == [], "the ping saw the queued call before it and waits behind it"
    assert list(ActionRun.objects.order_by("id").values_list("action_name", flat=True)) == [
        "latest-post",
        "ping",
    ]


def test_a_resend_in_the_same_batch_is_stored_once(demo_bot):
    client_id = uuid.uuid4()
    inbounds = [inbound_message("!ping", client_id=client_id)] * 2

    first, again = services.messages_receive(inbounds=inbounds)

    assert (first.is_duplicate, again.is_duplicate) == (False, True)
    assert again.message.id == first.message.id
    assert Message.objects.filter(sender_kind="participant").count() == 1


def test_a_message_to_a_missing_bot_fails_alone(demo_bot):
    inbounds = [from_visitor(1, "!ping"), from_visitor(2, "!ping", bot_slug="nobody")]

    ping, missing = services.messages_receive(inbounds=inbounds)

    assert isinstance(missing, BotNotFound)
    assert [reply.text for reply in ping.replies] == ["pong"]
    with pytest.raises(BotNotFound):
        services.message_receive(inbound=inbounds[1])


def test_a_twin_stored_meanwhile_turns_only_its_message_into_a_resend(demo_bot):
    client_id = uuid.uuid4()
    services.messages_receive(inbounds=[from_visitor(1, "hi"), from_visitor(2, "hi")])
    inbounds = [from_visitor(1, "!ping"), from_visitor(2, "!ping", client_id=client_id)]
    conversations = [
        services._conversation_load(inbound, row)
        for inbound, row in zip(
            inbounds,
            services.conversation_rows_get([services._conversation_key(i) for i in inbounds]),
            strict=True,
        )
    ]
    decisions = [
        services._message_decide(inbound, conversation)
        for inbound, conversation in zip(inbounds, conversations, strict=True)
    ]
    # Another socket stores the same resend between this batch's lookup and its commit.
    twin = Message.objects.create(
        room=conversations[1].room,
        participant=conversations[1].participant,
        sender_kind="participant",
        text="!ping",
        client_id=client_id,
    )

    stored, resend = services._decisions_store(decisions)

    assert (stored.is_duplicate, [reply.text for reply in stored.replies]) == (False, ["pong"])
    assert (resend.is_duplicate, resend.message.id) == (True, twin.pk)
    assert Message.objects.filter(client_id=client_id).count() == 1


@pytest.mark.django_db(transaction=True)
async def test_sockets_sending_at_once_are_stored_in_shared_batches(monkeypatch):
    await database_sync_to_async(demo_install)()
    batch_sizes = []
    receive_batch = services.messages_receive

    def receive_and_count(*, inbounds):
        batch_sizes.append(len(inbounds))
        return receive_batch(inbounds=inbounds)

    monkeypatch.setattr(services, "messages_receive", receive_and_count)
    chats = [await connect() for _ in range(20)]
    for chat in chats:
        await greet(chat)

    client_ids = [str(uuid.uuid4()) for _ in chats]
    await asyncio.gather(
        *(
            chat.send_json_to({"type": "message", "text": "!ping", "client_id": client_id})
            for chat, client_id in zip(chats, client_ids, strict=True)
        )
    )

    for chat, client_id in zip(chats, client_ids, strict=True):
        ack, echo, reply = [await chat.receive_json_from(timeout=5) for _ in range(3)]
        assert ack == {"type": "ack", "client_id": client_id, "id": echo["id"]}
        assert (echo["text"], reply["text"]) == ("!ping", "pong")
        await chat.disconnect()
    assert sum(batch_sizes) == 20
    assert max(batch_sizes) > 1, batch_sizes
    assert await database_sync_to_async(Message.objects.count)() == 40


def test_a_batchs_queued_runs_are_stored_in_one_insert_and_sent_in_one_task(
    demo_bot, django_capture_on_commit_callbacks, published_tasks
):
    inbounds = [from_visitor(n, "!latest-post") for n in range(4)]
    services.messages_receive(inbounds=inbounds)  # first contact creates rooms one by one
    published_tasks.clear()

    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        services.messages_receive(inbounds=inbounds)

    runs = list(ActionRun.objects.order_by("id").values_list("pk", flat=True))[4:]
    inserts = [q["sql"] for q in queries if 'INSERT INTO "actions_actionrun"' in q["sql"]]
    assert len(inserts) == 1
    assert [(task.name, task.args) for task in published_tasks] == [
        ("actions.tasks.action_runs_execute", (runs,))
    ]
