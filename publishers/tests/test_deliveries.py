import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.core import mail
from django.utils import timezone

from conversations import realtime
from conversations.models import Message
from conversations.tests.factories import BotFactory, RoomFactory
from publishers import deliveries, services
from publishers.deliveries import DeliveryRetry
from publishers.models import Delivery, Publisher, Subscription
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def publisher():
    return services.publisher_save(
        publisher=Publisher(bot=BotFactory(name="Newsbot"), slug="news", name="News", kind="manual")
    )


@pytest.fixture(autouse=True)
def _short_timeout(settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5


def post_to(publisher, title="Go 1.30 is out", tags=("go",)):
    return services.post_create(
        publisher=publisher, title=title, link="https://go.example.com/1.30", tags=tags
    )


def only_delivery():
    return Delivery.objects.select_related("subscription").get()


def test_rooms_get_the_post_stored_and_pushed_once_each(publisher):
    rooms = [RoomFactory(bot=publisher.bot) for _ in range(3)]
    for room in rooms:
        services.subscription_create(publisher=publisher, destination="room", room=room)
    Subscription.objects.filter(room=rooms[2]).update(is_active=False)
    post = post_to(publisher)
    layer = get_channel_layer()

    async def send_while_listening():
        channel = await layer.new_channel()
        await layer.group_add(realtime.room_group(rooms[0].pk), channel)
        sent = await sync_to_async(deliveries.post_deliveries_send)(post_id=post.pk)
        return sent, await asyncio.wait_for(layer.receive(channel), timeout=10)

    sent, event = async_to_sync(send_while_listening)()

    assert sent == 2
    assert deliveries.post_deliveries_send(post_id=post.pk) == 0  # a repeated task

    for room in rooms[:2]:
        message = Message.objects.get(room=room)
        assert message.sender_kind == "bot"
        assert message.text == "📰 News: Go 1.30 is out\nhttps://go.example.com/1.30"
    assert not Message.objects.filter(room=rooms[2]).exists()
    assert set(post.deliveries.values_list("status", "attempts")) == {("sent", 1)}
    assert event["type"] == realtime.MESSAGES_CREATED
    (pushed,) = event["messages"]
    assert pushed["sender_name"] == "Newsbot"
    assert pushed["id"] == Message.objects.get(room=rooms[0]).pk


def test_web_chat_fan_out_goes_in_batches(publisher, settings):
    settings.PUBLISHING_ROOM_BATCH = 2
    for _ in range(5):
        services.subscription_create(
            publisher=publisher, destination="room", room=RoomFactory(bot=publisher.bot)
        )

    sent = deliveries.post_deliveries_send(post_id=post_to(publisher).pk)

    assert sent == 5
    assert Message.objects.filter(sender_kind="bot").count() == 5


def test_an_email_carries_a_signed_one_click_unsubscribe(publisher, client, settings):
    settings.SITE_URL = "https://bots.example.com"
    services.subscription_create(publisher=publisher, destination="email", email="ada@example.com")
    post_to(publisher)

    deliveries.delivery_send(delivery_id=only_delivery().pk)
    deliveries.delivery_send(delivery_id=only_delivery().pk)  # a repeated task sends nothing

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ada@example.com"]
    assert email.subject == "News: Go 1.30 is out"
    assert "https://go.example.com/1.30" in email.body
    link = email.extra_headers["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://bots.example.com/publishing/unsubscribe/")
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert only_delivery().status == "sent"

    path = link.removeprefix("https://bots.example.com")
    confirm = client.get(path)
    assert confirm.status_code == 200
    assert Subscription.objects.get().is_active  # a link scanner's GET changes nothing
    done = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "Unsubscribed" in done.content.decode()
    assert not Subscription.objects.get().is_active
    assert client.post(path[:-5] + "xxxx/").status_code == 404


def test_a_webhook_delivery_is_signed_and_keeps_its_id_across_retries(publisher, receiver):
    subscription, receiver.secret = services.subscription_create(
        publisher=publisher, destination="webhook", webhook_url=receiver.url
    )
    post = post_to(publisher)
    receiver.script = [(500, {}, 0)]
    delivery = only_delivery()

    with pytest.raises(DeliveryRetry) as retry:
        deliveries.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "The receiver answered 500."
    assert delivery.next_attempt_at > timezone.now()
    assert 0 < retry.value.countdown <= 10

    deliveries.delivery_send(delivery_id=delivery.pk)  # not due yet: nothing happens
    assert len(receiver.requests) == 1
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    deliveries.delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert [r["webhook-id"] for r in receiver.requests] == [f"delivery-{delivery.pk}"] * 2
    assert receiver.processed == {f"delivery-{delivery.pk}": 1}
    body = receiver.bodies[f"delivery-{delivery.pk}"]
    assert body["type"] == "post.published"
    assert body["data"]["post"]["title"] == post.title
    assert subscription.endpoint.failure_streak == 0


def test_a_429_is_retried_when_the_receiver_says(publisher, receiver):
    _, receiver.secret = services.subscription_create(
        publisher=publisher, destination="webhook", webhook_url=receiver.url
    )
    post_to(publisher)
    receiver.script = [(429, {"Retry-After": "7"}, 0)]

    with pytest.raises(DeliveryRetry) as retry:
        deliveries.delivery_send(delivery_id=only_delivery().pk)

    assert retry.value.countdown == 7
    wait = only_delivery().next_attempt_at - timezone.now()
    assert timedelta(seconds=5) < wait <= timedelta(seconds=7)


def test_a_410_kills_the_delivery_and_disables_the_endpoint(publisher, receiver):
    services.subscription_create(
        publisher=publisher, destination="webhook", webhook_url=receiver.url
    )
    post_to(publisher)
    receiver.script = [(410, {}, 0)]

    deliveries.delivery_send(delivery_id=only_delivery().pk)

    assert only_delivery().status == "dead"
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.is_enabled, endpoint.disabled_reason) == (False, "gone")


def test_a_delivery_is_dead_after_its_last_attempt_and_staff_can_retry_it(
    publisher, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    _, receiver.secret = services.subscription_create(
        publisher=publisher, destination="webhook", webhook_url=receiver.url
    )
    post_to(publisher)
    receiver.script = [(503, {}, 0), (503, {}, 0)]
    delivery = only_delivery()
    with pytest.raises(DeliveryRetry):
        deliveries.delivery_send(delivery_id=delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    deliveries.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("dead", 2)

    with django_capture_on_commit_callbacks() as callbacks:
        assert deliveries.deliveries_retry(deliveries=Delivery.objects.all()) == 1
    assert len(callbacks) == 1
    deliveries.delivery_send(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert receiver.processed == {f"delivery-{delivery.pk}": 1}


def test_a_throttled_kind_waits_without_spending_an_attempt(publisher, settings):
    settings.PUBLISHING_RATE_LIMITS = {"email": 1.0}
    for address in ["a@example.com", "b@example.com"]:
        services.subscription_create(publisher=publisher, destination="email", email=address)
    post_to(publisher)
    first, second = Delivery.objects.order_by("pk")

    deliveries.delivery_send(delivery_id=first.pk)
    with pytest.raises(DeliveryRetry) as retry:
        deliveries.delivery_send(delivery_id=second.pk)

    assert 1.0 <= retry.value.countdown <= 2.0  # one in the backlog, at one per second
    second.refresh_from_db()
    assert (second.status, second.attempts) == ("pending", 0)
    assert second.next_attempt_at > timezone.now()  # the sweeper leaves it to its task
    assert len(mail.outbox) == 1
    Delivery.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    assert deliveries.deliveries_sweep() == 0
    Delivery.objects.filter(pk=second.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert deliveries.deliveries_sweep() == 1  # its task was lost after all


def test_the_sweeper_takes_back_attempts_of_dead_workers_and_lost_tasks(publisher, settings):
    settings.DELIVERY_STUCK_SECONDS = 60
    settings.DELIVERY_TIMEOUT_SECONDS = 120
    services.subscription_create(publisher=publisher, destination="email", email="a@example.com")
    services.subscription_create(
        publisher=publisher, destination="room", room=RoomFactory(bot=publisher.bot)
    )
    services.subscription_create(
        publisher=publisher, destination="room", room=RoomFactory(bot=publisher.bot)
    )
    post_to(publisher)
    long_ago = timezone.now() - timedelta(minutes=10)
    email_delivery = Delivery.objects.get(subscription__destination="email")
    Delivery.objects.filter(pk=email_delivery.pk).update(
        status="sending", claimed_at=long_ago, attempts=1
    )
    Delivery.objects.update(created_at=long_ago)

    # One post for its two rooms; the email is not due yet.
    assert deliveries.deliveries_sweep() == 1

    email_delivery.refresh_from_db()
    assert (email_delivery.status, email_delivery.last_error) == ("failed", "worker lost")
    Delivery.objects.filter(pk=email_delivery.pk).update(next_attempt_at=long_ago)
    assert deliveries.deliveries_sweep() == 2
    deliveries.delivery_send(delivery_id=email_delivery.pk)
    email_delivery.refresh_from_db()
    assert (email_delivery.status, email_delivery.attempts) == ("sent", 2)


def test_a_post_created_twice_for_the_same_subscription_has_one_delivery(publisher):
    services.subscription_create(publisher=publisher, destination="email", email="a@example.com")
    post = post_to(publisher)

    assert deliveries.deliveries_create(post=post) == 0
    assert post.deliveries.count() == 1


def test_a_throttled_web_chat_fan_out_sends_what_the_rate_allows_then_waits(publisher, settings):
    settings.PUBLISHING_RATE_LIMITS = {"room": 3.0}
    for _ in range(5):
        services.subscription_create(
            publisher=publisher, destination="room", room=RoomFactory(bot=publisher.bot)
        )
    post = post_to(publisher)

    with pytest.raises(DeliveryRetry):
        deliveries.post_deliveries_send(post_id=post.pk)

    assert post.deliveries.filter(status="sent").count() == 3
    assert Message.objects.filter(sender_kind="bot").count() == 3
