"""A post written for later is delivered at its time: no room, mailbox or webhook gets it
before, and it goes out by itself when the time comes."""

import time
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from conversations.models import Message
from conversations.tests.factories import BotFactory, RoomFactory
from publishers import deliveries, services
from publishers.deliveries import DeliveryRetry
from publishers.models import Delivery, Publisher

pytestmark = pytest.mark.django_db


@pytest.fixture
def publisher():
    publisher = services.publisher_save(
        publisher=Publisher(bot=BotFactory(), slug="news", name="News", kind="manual")
    )
    room = RoomFactory(bot=publisher.bot)
    services.subscription_create(publisher=publisher, destination="room", room=room)
    services.subscription_create(publisher=publisher, destination="email", email="a@example.com")
    return publisher


def post_in(publisher, delay: timedelta):
    return services.post_create(
        publisher=publisher, title="Launch day", published_at=timezone.now() + delay
    )


def test_a_post_dated_later_is_sent_to_no_one_before_its_time(publisher):
    post = post_in(publisher, timedelta(minutes=10))

    with pytest.raises(DeliveryRetry) as caught:
        deliveries.post_deliveries_send(post_id=post.pk)
    for delivery in Delivery.objects.all():
        deliveries.delivery_send(delivery_id=delivery.pk)

    assert 590 < caught.value.countdown <= 600  # the task comes back at the post's time
    assert not Message.objects.exists()
    assert not mail.outbox
    assert set(Delivery.objects.values_list("status", "next_attempt_at")) == {
        ("pending", post.published_at)
    }


def test_a_post_dated_later_goes_out_when_its_time_has_come(publisher):
    post = post_in(publisher, timedelta(seconds=1.5))
    with pytest.raises(DeliveryRetry):
        deliveries.post_deliveries_send(post_id=post.pk)

    deadline = time.monotonic() + 10
    while timezone.now() < post.published_at and time.monotonic() < deadline:
        time.sleep(0.05)  # waits for the post's time itself, which is what is tested
    sent = deliveries.post_deliveries_send(post_id=post.pk)
    email = Delivery.objects.get(subscription__destination="email")
    deliveries.delivery_send(delivery_id=email.pk)

    assert sent == 1
    message = Message.objects.get()
    assert message.created_at >= post.published_at
    assert [m.subject for m in mail.outbox] == ["News: Launch day"]


def test_the_sweeper_hands_on_a_post_due_before_its_next_sweep_with_its_time(
    publisher, settings, published_tasks
):
    settings.DELIVERY_SWEEP_SECONDS = 30
    soon = post_in(publisher, timedelta(seconds=20))
    post_in(publisher, timedelta(days=2))
    published_tasks.clear()

    deliveries.deliveries_sweep()

    (task,) = [t for t in published_tasks if t.name.endswith("post_deliveries_send")]
    assert task.args == (soon.pk,)
    assert task.eta is not None
    assert abs((datetime.fromisoformat(task.eta) - soon.published_at).total_seconds()) < 2


def test_a_post_days_ahead_waits_for_the_sweeper_instead_of_the_broker(publisher):
    post = post_in(publisher, timedelta(days=2))

    assert deliveries.post_deliveries_send(post_id=post.pk) == 0
    assert not Message.objects.exists()


def test_the_admin_shows_that_a_post_is_scheduled(admin_client, publisher):
    later = (timezone.localtime() + timedelta(days=1)).replace(microsecond=0)

    response = admin_client.post(
        "/admin/publishers/post/add/",
        {
            "publisher": publisher.pk,
            "title": "Launch day",
            "tags": "",
            "published_at_0": later.strftime("%Y-%m-%d"),
            "published_at_1": later.strftime("%H:%M:%S"),
        },
        follow=True,
    )

    page = response.content.decode()
    assert "is scheduled: subscribers get it at" in page
    assert "scheduled for" in page
    assert not Message.objects.exists()
