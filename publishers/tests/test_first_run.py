"""A source's first run takes in its backlog as history instead of sending years of items
to every subscriber at once; staff may set a horizon of recent items that are sent."""

from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from conversations.tests.factories import BotFactory, RoomFactory
from publishers import services
from publishers.models import SOURCE_ADOPT, Delivery, Post, Publisher
from publishers.tests.feeds import feed_server

pytestmark = pytest.mark.django_db


def rss(*items: tuple[str, timedelta | None]) -> bytes:
    """A feed whose items were published that long ago (None: undated)."""
    now = timezone.now()
    entries = "".join(
        f"<item><title>{guid}</title><guid>{guid}</guid>"
        + (f"<pubDate>{format_datetime(now - age)}</pubDate>" if age is not None else "")
        + "</item>"
        for guid, age in items
    )
    return f'<rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()


@pytest.fixture
def feeds(settings):
    with feed_server() as server:
        settings.HTTP_ALLOWED_HOSTS = [urlsplit(server.base).netloc]
        yield server


BACKLOG = [("old", timedelta(days=900)), ("last-week", timedelta(days=7)), ("undated", None)]


def subscribed_publisher(url: str, **fields) -> Publisher:
    publisher = services.publisher_save(
        publisher=Publisher(
            bot=BotFactory(), slug="blog", name="Blog", kind="feed", config={"url": url}, **fields
        )
    )
    room = RoomFactory(bot=publisher.bot)
    services.subscription_create(publisher=publisher, destination="room", room=room)
    return publisher


def sent_titles() -> set[str]:
    return set(Delivery.objects.values_list("post__title", flat=True))


def test_a_new_feeds_first_run_stores_its_backlog_as_history_and_sends_nothing(feeds):
    feeds.routes["/feed"] = (200, "application/rss+xml", rss(*BACKLOG), 0)
    publisher = subscribed_publisher(f"{feeds.base}/feed")

    run = services.publisher_run(publisher_id=publisher.pk)

    assert (run.items_seen, run.posts_new, run.posts_history, run.error) == (3, 3, 3, "")
    assert Post.objects.count() == 3
    assert not Delivery.objects.exists()


def test_items_that_appear_after_the_first_run_are_sent(feeds):
    feeds.routes["/feed"] = (200, "application/rss+xml", rss(*BACKLOG), 0)
    publisher = subscribed_publisher(f"{feeds.base}/feed")
    services.publisher_run(publisher_id=publisher.pk)
    feeds.routes["/feed"] = (200, "application/rss+xml", rss(*BACKLOG, ("news", None)), 0)

    run = services.publisher_run(publisher_id=publisher.pk)

    assert (run.posts_new, run.posts_history) == (1, 0)
    assert sent_titles() == {"news"}


def test_a_horizon_sends_only_the_backlog_published_within_it(feeds):
    feeds.routes["/feed"] = (200, "application/rss+xml", rss(*BACKLOG), 0)
    publisher = subscribed_publisher(f"{feeds.base}/feed", first_run_send_hours=24 * 10)

    run = services.publisher_run(publisher_id=publisher.pk)

    assert (run.posts_new, run.posts_history) == (3, 2)
    assert sent_titles() == {"last-week"}


def test_a_feed_given_another_url_has_a_first_run_again(feeds):
    feeds.routes["/feed"] = (200, "application/rss+xml", rss(("a", timedelta(days=1))), 0)
    feeds.routes["/other"] = (200, "application/rss+xml", rss(*BACKLOG), 0)
    publisher = subscribed_publisher(f"{feeds.base}/feed")
    services.publisher_run(publisher_id=publisher.pk)
    publisher.refresh_from_db()
    assert "Every new item" in services.publisher_next_run_sends(publisher=publisher)

    publisher.config = {"url": f"{feeds.base}/other"}
    services.publisher_save(publisher=publisher)
    assert "first run" in services.publisher_next_run_sends(publisher=publisher)
    run = services.publisher_run(publisher_id=publisher.pk)

    assert (run.posts_new, run.posts_history) == (3, 3)
    assert not Delivery.objects.exists()


def test_a_failed_first_run_leaves_the_next_good_run_a_first_run(feeds):
    feeds.routes["/feed"] = (503, "text/plain", b"", 0)
    publisher = subscribed_publisher(f"{feeds.base}/feed")
    assert services.publisher_run(publisher_id=publisher.pk).error
    feeds.routes["/feed"] = (200, "application/rss+xml", rss(*BACKLOG), 0)

    run = services.publisher_run(publisher_id=publisher.pk)

    assert run.posts_history == 3
    assert not Delivery.objects.exists()


def test_a_publisher_from_before_the_upgrade_keeps_sending_what_is_new(feeds):
    feeds.routes["/feed"] = (200, "application/rss+xml", rss(*BACKLOG), 0)
    publisher = subscribed_publisher(f"{feeds.base}/feed")
    Publisher.objects.filter(pk=publisher.pk).update(
        source_seen=SOURCE_ADOPT
    )  # the column's default

    run = services.publisher_run(publisher_id=publisher.pk)

    assert (run.posts_new, run.posts_history) == (3, 0)
    assert sent_titles() == {"old", "last-week", "undated"}
    publisher.refresh_from_db()
    assert publisher.source_seen == services.publisher_source_key(publisher=publisher)


def test_the_admin_says_what_the_next_run_sends(admin_client, feeds):
    publisher = subscribed_publisher(f"{feeds.base}/feed", first_run_send_hours=48)

    page = admin_client.get(f"/admin/publishers/publisher/{publisher.pk}/change/").content.decode()

    assert "Items published in the 48 hours before the run are sent" in page
    assert "on a first run, send items of the last (hours)" in page.lower()
    assert "store the backlog as history" in page
