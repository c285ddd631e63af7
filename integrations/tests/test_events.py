from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from actions.models import ActionRun
from actions.services import action_run_execute
from conversations.models import Message
from integrations.events import event_hook_create, event_hook_scan, event_hook_send, events_scan
from integrations.models import EventDelivery, EventHook
from integrations.tests.conftest import client_for
from integrations.tests.factories import token_make
from publishers.models import Delivery, PublisherRun
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create
from webhooks.tests.receiver import webhook_receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settled_at_once(settings):
    settings.EVENT_SETTLE_SECONDS = 0
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1


@pytest.fixture
def receiver(settings):
    with webhook_receiver() as receiver:
        settings.HTTP_ALLOWED_HOSTS = [urlsplit(receiver.url).netloc]
        yield receiver


def endpoint_for(bot, receiver) -> WebhookEndpoint:
    endpoint, receiver.secret = webhook_endpoint_create(url=receiver.url, bot=bot)
    return endpoint


def flush() -> None:
    """What beat and the worker do: scan, then send each hook's due events."""
    for hook_id in events_scan():
        event_hook_send(hook_id=hook_id)


def delivered(receiver) -> list[dict]:
    return [receiver.bodies[request["webhook-id"]] for request in receiver.requests]


def test_a_rooms_callback_receives_its_queued_replies_signed_and_in_order(demo_bot, receiver):
    endpoint = endpoint_for(demo_bot, receiver)
    _, secret = token_make([demo_bot])
    client = client_for(secret)

    answer = client.post(
        reverse("api:bot-messages", args=["demo"]),
        {
            "text": "!latest-post",
            "participant": "crm-7",
            "wait": 0,
            "callback_endpoint": endpoint.pk,
        },
        format="json",
    )
    assert answer.status_code == 202
    flush()
    assert receiver.requests == []  # nothing replied yet
    for run in ActionRun.objects.order_by("id"):
        action_run_execute(run_id=run.pk)
    client.post(
        reverse("api:bot-messages", args=["demo"]),
        {"text": "!ping", "participant": "crm-7"},
        format="json",
    )
    flush()

    bodies = delivered(receiver)
    assert receiver.bad_signatures == 0
    assert [body["type"] for body in bodies] == ["reply.sent", "reply.sent"]
    replies = Message.objects.filter(sender_kind="bot").order_by("id")
    assert [body["data"]["message"]["id"] for body in bodies] == [m.pk for m in replies]
    assert bodies[1]["data"]["message"]["text"] == "pong"
    assert bodies[0]["data"]["room"]["external_id"] == "participant:crm-7"


def test_a_bot_wide_hook_gets_received_messages_and_replies_of_every_room(demo_bot, receiver):
    endpoint = endpoint_for(demo_bot, receiver)
    event_hook_create(endpoint=endpoint, events=["message.received", "reply.sent"])
    client = client_for(token_make([demo_bot])[1])

    for participant in ("ada", "bob"):
        client.post(
            reverse("api:bot-messages", args=["demo"]),
            {"text": "!ping", "participant": participant},
            format="json",
        )
    flush()

    kinds = [(b["type"], b["data"]["message"]["text"]) for b in delivered(receiver)]
    assert kinds == [("message.received", "!ping"), ("reply.sent", "pong")] * 2


def test_a_failing_receiver_holds_the_queue_so_events_keep_their_order(demo_bot, receiver):
    endpoint = endpoint_for(demo_bot, receiver)
    hook = event_hook_create(endpoint=endpoint, events=["message.received"])
    client = client_for(token_make([demo_bot])[1])
    for text in ("one", "two"):
        client.post(
            reverse("api:bot-messages", args=["demo"]),
            {"text": text, "participant": "ada"},
            format="json",
        )
    receiver.script = [(503, {}, 0)]

    flush()
    head = hook.deliveries.first()
    assert (head.status, head.attempts) == ("pending", 1)
    assert len(receiver.requests) == 1  # "two" waits behind "one"
    EventDelivery.objects.filter(pk=head.pk).update(next_attempt_at=timezone.now())
    flush()

    texts = [b["data"]["message"]["text"] for b in delivered(receiver)[1:]]
    assert texts == ["one", "two"]
    assert set(hook.deliveries.values_list("status", flat=True)) == {"sent"}


def test_an_event_is_sent_once_even_when_scans_and_senders_repeat(demo_bot, receiver):
    endpoint = endpoint_for(demo_bot, receiver)
    hook = event_hook_create(endpoint=endpoint, events=["message.received"])
    client_for(token_make([demo_bot])[1]).post(
        reverse("api:bot-messages", args=["demo"]),
        {"text": "hello", "participant": "ada"},
        format="json",
    )

    for _ in range(3):
        event_hook_scan(hook_id=hook.pk)
        event_hook_send(hook_id=hook.pk)

    assert hook.deliveries.count() == 1
    assert list(receiver.processed.values()) == [1]


def test_a_sender_holding_the_lease_keeps_a_second_one_out(demo_bot, receiver):
    hook = event_hook_create(endpoint=endpoint_for(demo_bot, receiver), events=["reply.sent"])
    EventDelivery.objects.create(hook=hook, event_type="reply.sent", object_key="1", payload={})
    EventHook.objects.filter(pk=hook.pk).update(
        send_lease_until=timezone.now() + timedelta(seconds=30)
    )

    assert event_hook_send(hook_id=hook.pk) == 0
    assert receiver.requests == []


def test_failing_publisher_runs_and_dead_deliveries_become_events(own, receiver):
    endpoint = endpoint_for(own.bot, receiver)
    event_hook_create(endpoint=endpoint, events=["publisher.failing", "delivery.failed"])
    now = timezone.now()
    PublisherRun.objects.create(publisher=own.publisher, started_at=now, finished_at=now)
    failed = PublisherRun.objects.create(
        publisher=own.publisher, started_at=now, finished_at=now, error="HTTP 500"
    )
    dead = Delivery.objects.create(
        post=own.post,
        subscription=own.subscription.__class__.objects.create(
            publisher=own.publisher, destination="email", email="a@example.com"
        ),
        status="dead",
        last_error="bounced",
    )

    flush()
    flush()

    bodies = {b["type"]: b["data"] for b in delivered(receiver)}
    assert bodies["publisher.failing"]["run"] == {
        "id": failed.pk,
        "started_at": now.isoformat(),
        "finished_at": now.isoformat(),
        "error": "HTTP 500",
    }
    assert bodies["delivery.failed"]["delivery"]["id"] == dead.pk
    assert len(receiver.requests) == 2


def test_a_callback_endpoint_of_another_bot_is_a_400(demo_bot, own):
    client = client_for(token_make([demo_bot])[1])

    answer = client.post(
        reverse("api:bot-messages", args=["demo"]),
        {"text": "!ping", "participant": "ada", "callback_endpoint": own.webhook_endpoint.pk},
        format="json",
    )

    assert answer.status_code == 400
    assert "callback_endpoint" in answer.json()["fields"]
    assert not Message.objects.filter(room__bot=demo_bot).exists()


def test_a_dead_event_can_be_sent_again(api, own, receiver):
    own.event_delivery.status = "dead"
    own.event_delivery.save()

    response = api.post(reverse("api:event-delivery-retry", args=[own.event_delivery.pk]))

    assert response.json() == {"count": 1}
    own.event_delivery.refresh_from_db()
    assert own.event_delivery.status == "pending"


def test_staff_add_an_event_hook_in_the_admin_from_now_on(admin_client, own):
    response = admin_client.post(
        reverse("admin:integrations_eventhook_add"),
        {
            "endpoint": own.webhook_endpoint.pk,
            "events": "message.received, reply.sent",
            "is_enabled": "on",
            "deliveries-TOTAL_FORMS": 0,
            "deliveries-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302
    hook = EventHook.objects.exclude(pk=own.event_hook.pk).get()
    assert hook.events == ["message.received", "reply.sent"]
    assert hook.last_message_id == Message.objects.latest("id").pk


def test_staff_send_dead_events_again_from_the_admin(admin_client, own):
    own.event_delivery.status = "dead"
    own.event_delivery.save()

    admin_client.post(
        reverse("admin:integrations_eventdelivery_changelist"),
        {"action": "retry", "_selected_action": [own.event_delivery.pk]},
    )

    own.event_delivery.refresh_from_db()
    assert own.event_delivery.status == "pending"
    assert (
        admin_client.get(reverse("admin:integrations_eventdelivery_changelist")).status_code == 200
    )
