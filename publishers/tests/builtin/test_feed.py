from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError

from conversations.tests.factories import BotFactory
from publishers import services
from publishers.models import Post, Publisher
from publishers.tests.feeds import ATOM, BILLION_LAUGHS, RSS, XXE, feed_server

pytestmark = pytest.mark.django_db

RSS_TYPE = "application/rss+xml"


@pytest.fixture
def feeds(settings):
    settings.HTTP_TIMEOUT_SECONDS = 0.5
    settings.HTTP_MAX_RESPONSE_BYTES = 20_000
    with feed_server() as server:
        settings.HTTP_ALLOWED_HOSTS = [urlsplit(server.base).netloc]
        yield server


def feed_publisher(url: str) -> Publisher:
    return services.publisher_save(
        publisher=Publisher(bot=BotFactory(), slug="go", name="Go blog", kind="feed",
                            config={"url": url})
    )  # fmt: skip


def test_an_rss_feed_is_stored_once_with_tags_times_and_plain_text(feeds):
    feeds.routes["/rss"] = (200, RSS_TYPE, RSS, 0)
    publisher = feed_publisher(f"{feeds.base}/rss")

    first = services.publisher_run(publisher_id=publisher.pk)
    again = services.publisher_run(publisher_id=publisher.pk)

    assert (first.items_seen, first.posts_new, first.error) == (2, 2, "")
    assert (again.items_seen, again.posts_new) == (2, 0)
    release = Post.objects.get(publisher=publisher, source_id="go-1.30")
    assert release.title == "Go 1.30 is released"
    assert release.body == "Faster builds & more."
    assert release.link == "https://go.example.com/go1.30"
    assert release.tags == ["golang", "release"]
    assert release.published_at == datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    generics = Post.objects.get(publisher=publisher, source_id="https://go.example.com/generics")
    assert generics.published_at == datetime(2026, 11, 2, 11, 30, tzinfo=UTC)
    publisher.refresh_from_db()
    assert publisher.status == Publisher.Status.OK


def test_an_atom_feed_is_stored(feeds):
    feeds.routes["/atom"] = (200, "application/atom+xml", ATOM, 0)
    publisher = feed_publisher(f"{feeds.base}/atom")

    run = services.publisher_run(publisher_id=publisher.pk)

    post = Post.objects.get(publisher=publisher)
    assert run.posts_new == 1
    assert post.source_id == "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
    assert post.title == "Python 3.15 <beta>"
    assert (post.link, post.tags, post.body) == (
        "https://py.example.com/3.15",
        ["python"],
        "Try it.",
    )


@pytest.mark.parametrize(
    ("path", "route", "error"),
    [
        ("/bomb", (200, RSS_TYPE, BILLION_LAUGHS, 0), "declares a DTD or entities"),
        ("/xxe", (200, RSS_TYPE, XXE, 0), "declares a DTD or entities"),
        ("/huge", (200, RSS_TYPE, RSS.replace(b"News", b"N" * 30_000), 0), "larger than 20000"),
        ("/slow", (200, RSS_TYPE, RSS, 0.1), "took too long"),
        (
            "/html",
            (200, "text/html", b"<html><body>hi</body></html>", 0),
            "not an RSS or Atom feed",
        ),
        ("/broken", (200, RSS_TYPE, b"<rss><channel>", 0), "not well-formed"),
        ("/gone", (404, "text/plain", b"", 0), "answered 404"),
        ("/moved", (302, "text/plain", b"http://169.254.169.254/", 0), "redirect"),
    ],
)
def test_a_hostile_or_broken_feed_stores_nothing_and_marks_the_publisher_failing(
    feeds, path, route, error
):
    feeds.routes[path] = route
    publisher = feed_publisher(f"{feeds.base}{path}")

    run = services.publisher_run(publisher_id=publisher.pk)

    assert error in run.error
    assert run.finished_at is not None
    assert not Post.objects.filter(publisher=publisher).exists()
    publisher.refresh_from_db()
    assert publisher.status == Publisher.Status.FAILING
    assert error in publisher.last_error
    assert feeds.hits.count(path) == 1  # no redirect followed


def test_a_failing_feed_recovers_by_itself_on_the_next_run(feeds):
    feeds.routes["/flaky"] = (503, "text/plain", b"", 0)
    publisher = feed_publisher(f"{feeds.base}/flaky")
    services.publisher_run(publisher_id=publisher.pk)
    feeds.routes["/flaky"] = (200, RSS_TYPE, RSS, 0)

    run = services.publisher_run(publisher_id=publisher.pk)

    publisher.refresh_from_db()
    assert (publisher.status, publisher.last_error, run.posts_new) == ("ok", "", 2)
    assert list(publisher.runs.values_list("posts_new", flat=True)) == [2, 0]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/feed", "http://[64:ff9b::7f00:1]/feed", "http://10.0.0.5/"]
)
def test_a_feed_on_a_private_address_is_refused_when_it_is_saved(url):
    with pytest.raises(ValidationError, match="private or local") as caught:
        feed_publisher(url)

    assert "config" in caught.value.message_dict
    assert not Publisher.objects.exists()


def test_a_feed_whose_name_turned_private_is_refused_at_its_run(dns):
    dns["feeds.example.com"] = ["93.184.215.14"]
    publisher = feed_publisher("https://feeds.example.com/feed")
    dns["feeds.example.com"] = ["127.0.0.1"]  # the name now resolves to the machine itself

    run = services.publisher_run(publisher_id=publisher.pk)

    assert "not allowed" in run.error
