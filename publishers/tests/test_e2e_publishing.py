"""Publishing end to end on PostgreSQL and Redis: real beat processes fire a publisher that
reads a real feed from a local server, and each post reaches an open WebSocket, an email
outbox and a webhook receiver that verifies signatures, once; also when two beats run at
once, when the worker is killed in the middle of a fan-out, and when the receiver is slow,
failing, then healthy."""

import json
import signal
import sys
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest
from django.db.models import Count
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from botsite.tests.processes import bot_says, chat_socket, receive_until, start, wait_until
from botsite.tests.subprocess_env import outbound_allowed
from conversations.models import Bot, Message, Room
from integrations.tests.factories import token_make
from publishers import services
from publishers.models import Delivery, Post, Publisher, Subscription
from publishers.tests.feeds import RSS, feed_server

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.fixture
def services_env(services_env, tmp_path, feeds, receiver):
    return {
        **services_env,
        "HTTP_ALLOWED_HOSTS": outbound_allowed(feeds.base, receiver.url),
        "BOTSITE_DATA_DIR": str(tmp_path / "data"),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DELIVERY_SWEEP_SECONDS": "1",
        "DELIVERY_STUCK_SECONDS": "2",
        "DELIVERY_TIMEOUT_SECONDS": "4",
        "WEBHOOK_RETRY_BASE_SECONDS": "1",
        "WEBHOOK_TIMEOUT_SECONDS": "1",
        "PUBLISHING_ROOM_BATCH": "100",
    }


@pytest.fixture
def feeds(settings):
    with feed_server() as server:
        server.routes["/feed"] = (200, "application/rss+xml", RSS, 0)
        # Publishers are saved in this process too, where the URL is checked first.
        settings.HTTP_ALLOWED_HOSTS = [*settings.HTTP_ALLOWED_HOSTS, outbound_allowed(server.base)]
        yield server


def feed_publisher(feeds) -> Publisher:
    return services.publisher_save(
        publisher=Publisher(
            bot=Bot.objects.get(slug="demo"),
            slug="golang",
            name="Go blog",
            kind="feed",
            config={"url": f"{feeds.base}/feed"},
            interval_seconds=600,
            first_run_send_hours=24 * 365 * 20,  # the test feed's dated items are news
        )
    )


def beat_fires_soon(publisher: Publisher) -> None:
    # As if the last run were long ago: beat runs it on its next tick instead of in 10 min.
    task = PeriodicTask.objects.get(pk=publisher.periodic_task_id)
    task.last_run_at = timezone.now() - timedelta(hours=1)
    task.save()


def webhook_subscribe(publisher: Publisher, receiver) -> Subscription:
    subscription, receiver.secret = services.subscription_create(
        publisher=publisher, destination="webhook", webhook_url=receiver.url
    )
    return subscription


def all_sent(expected: int) -> bool:
    return Delivery.objects.filter(status="sent").count() == expected


def test_beat_fires_a_feed_and_each_post_reaches_chat_email_and_webhook_once_with_two_beats(
    topology, feeds, receiver, tmp_path
):
    publisher = feed_publisher(feeds)
    second_beat = start(
        "beat-2",
        [sys.executable, "-m", "celery", "-A", "botsite", "beat", "-l", "INFO",
         "-s", str(tmp_path / "beat-2")],
        topology.env,
        topology.logs,
    )  # fmt: skip
    topology.processes.append(second_beat)
    services.subscription_create(publisher=publisher, destination="email", email="ada@example.com")
    webhook_subscribe(publisher, receiver)

    with chat_socket(topology.port) as chat:
        chat.send(json.dumps({"type": "message", "text": "!subscribe golang"}))
        receive_until(chat, bot_says("Subscribed: new golang posts"), timeout=30)
        # Both beats hold the schedule before it falls due, so both send the run.
        wait_until(lambda: "Schedule changed" in second_beat.log(), timeout=30,
                   what="the second beat to load the schedule", watch=[second_beat])  # fmt: skip
        beat_fires_soon(publisher)

        first = receive_until(chat, bot_says("📰 Go blog"), timeout=60)
        second = receive_until(chat, bot_says("📰 Go blog"), timeout=30)
        wait_until(lambda: all_sent(6), timeout=60, what="every delivery to be sent",
                   watch=topology.processes)  # fmt: skip
        with pytest.raises(AssertionError, match="no matching frame"):
            receive_until(chat, bot_says("📰"), timeout=3)  # nothing a second time

    titles = {first["text"].splitlines()[0], second["text"].splitlines()[0]}
    assert titles == {"📰 Go blog: Go 1.30 is released", "📰 Go blog: Generics, two years on"}
    assert Post.objects.filter(publisher=publisher).count() == 2
    room = Subscription.objects.get(destination="room").room
    assert Message.objects.filter(room=room, text__startswith="📰").count() == 2
    outbox = list((Path(topology.env["BOTSITE_DATA_DIR"]) / "outbox").glob("*.log"))
    mails = [message_from_bytes(path.read_bytes()) for path in outbox]
    subjects = sorted(m["Subject"] for m in mails if m["Subject"].startswith("Go blog"))
    assert subjects == ["Go blog: Generics, two years on", "Go blog: Go 1.30 is released"]
    assert all("/publishing/unsubscribe/" in m["List-Unsubscribe"] for m in mails)
    assert sorted(receiver.processed.values()) == [1, 1]
    assert receiver.bad_signatures == 0
    assert "Go 1.30 is released" in {b["data"]["post"]["title"] for b in receiver.bodies.values()}
    task = f"Sending due task publisher:{publisher.pk}"
    assert task in topology.processes[1].log()  # both beats sent the run
    assert task in second_beat.log()
    assert publisher.runs.filter(posts_new__gt=0).count() == 1


def test_a_post_written_for_later_reaches_the_chat_at_its_time_not_before(topology):
    demo = Bot.objects.get(slug="demo")
    services.publisher_save(
        publisher=Publisher(bot=demo, slug="launch", name="Launch", kind="manual")
    )
    _, secret = token_make([demo])
    with chat_socket(topology.port) as chat:
        chat.send(json.dumps({"type": "message", "text": "!subscribe launch"}))
        receive_until(chat, bot_says("Subscribed: new launch posts"), timeout=30)
        later = timezone.now() + timedelta(seconds=4)
        written = httpx.post(
            f"http://127.0.0.1:{topology.port}/api/v1/posts/",
            json={"publisher": Publisher.objects.get(slug="launch").pk, "title": "Launch day",
                  "published_at": later.isoformat()},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )  # fmt: skip
        assert written.status_code == 201, written.text

        frame = receive_until(chat, bot_says("📰 Launch: Launch day"), timeout=60)

    delivered = Message.objects.get(pk=frame["id"])
    assert delivered.created_at >= later  # stored (and so pushed) at its time, not before
    assert Delivery.objects.get(post__title="Launch day").status == "sent"


def test_a_worker_killed_mid_fan_out_and_a_failing_receiver_lose_and_double_nothing(
    topology, feeds, receiver
):
    publisher = feed_publisher(feeds)
    bot = publisher.bot
    rooms = Room.objects.bulk_create(
        Room(bot=bot, connector="webchat", external_id=f"fan-{n}") for n in range(2000)
    )
    Subscription.objects.bulk_create(
        Subscription(publisher=publisher, destination="room", room=room) for room in rooms
    )
    webhook_subscribe(publisher, receiver)
    # Slow, then failing, then healthy: the first attempt outlives its 1 s timeout.
    receiver.script = [(204, {}, 2.5), (500, {}, 0), (503, {"Retry-After": "1"}, 0)]
    beat_fires_soon(publisher)

    wait_until(
        lambda: Delivery.objects.filter(status="sent").exists(),
        timeout=60,
        what="the fan-out to begin",
        watch=topology.processes,
    )
    topology.worker.stop(sig=signal.SIGKILL)  # the whole worker, mid fan-out
    left = Delivery.objects.filter(subscription__destination="room").exclude(status="sent")
    rooms_left = left.count()
    worker = topology.worker_start("worker-2")
    wait_until(lambda: all_sent(2 * 2001), timeout=120, what="every delivery to be sent",
               watch=[worker, topology.processes[1]])  # fmt: skip

    assert rooms_left > 0  # the kill did land in the middle of the fan-out
    per_pair = Delivery.objects.values("post", "subscription").annotate(n=Count("id"))
    assert {row["n"] for row in per_pair} == {1}
    per_room = (
        Message.objects.filter(room__in=rooms)
        .values("room")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    )
    assert len(per_room) == 2000
    assert set(per_room) == {2}  # each post exactly once in each room
    assert len(receiver.processed) == 2
    assert set(receiver.processed.values()) == {1}  # each webhook-id processed once
    assert max(receiver.received.values()) >= 2  # the slow answer made the sender retry
    assert len(receiver.requests) >= 5  # slow, failing, then healthy
