import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError

from conversations.tests.factories import BotFactory
from publishers import services
from publishers.models import Post, Publisher
from publishers.tests.feeds import feed_server

pytestmark = pytest.mark.django_db

ANSWER = {
    "data": {
        "items": [
            {
                "id": 17,
                "headline": "Rust 2027 edition",
                "summary": "What changes.",
                "url": "https://rust.example.com/2027",
                "topics": ["Rust", "release"],
                "published": "2026-11-21T08:00:00Z",
            },
            {"id": "b", "headline": "Epoch time", "published": 1763712000, "topics": "misc"},
            {"headline": "no id: skipped"},
            {"id": "c"},
        ]
    }
}
CONFIG = {
    "items_path": "data.items",
    "id_field": "id",
    "title_field": "headline",
    "body_field": "summary",
    "link_field": "url",
    "tags_field": "topics",
    "published_field": "published",
}


@pytest.fixture
def api(settings):
    with feed_server() as server:
        settings.HTTP_ALLOWED_HOSTS = [urlsplit(server.base).netloc]
        server.routes["/news"] = (200, "application/json", json.dumps(ANSWER).encode(), 0)
        server.routes["/flat"] = (200, "application/json", b'{"items": 3}', 0)
        yield server


def publisher_for(url: str, **config: str) -> Publisher:
    return services.publisher_save(
        publisher=Publisher(
            bot=BotFactory(), slug="api", name="API", kind="json_endpoint",
            config={**CONFIG, "url": url, **config},
        )
    )  # fmt: skip


def test_items_are_mapped_to_posts_by_the_configured_fields(api):
    publisher = publisher_for(f"{api.base}/news")

    run = services.publisher_run(publisher_id=publisher.pk)

    assert (run.items_seen, run.posts_new) == (2, 2)
    rust = Post.objects.get(publisher=publisher, source_id="17")
    assert (rust.title, rust.body, rust.link) == (
        "Rust 2027 edition",
        "What changes.",
        "https://rust.example.com/2027",
    )
    assert rust.tags == ["rust", "release"]
    assert rust.published_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    epoch = Post.objects.get(publisher=publisher, source_id="b")
    assert epoch.tags == ["misc"]
    assert epoch.published_at == datetime.fromtimestamp(1763712000, tz=UTC)


def test_an_answer_without_a_list_where_configured_is_a_clear_error(api):
    publisher = publisher_for(f"{api.base}/flat", items_path="items")

    run = services.publisher_run(publisher_id=publisher.pk)

    assert run.error == "No list of items at items of the answer."
    assert not Post.objects.exists()


def test_a_config_without_url_or_title_field_is_refused():
    publisher = Publisher(bot=BotFactory(), slug="x", name="x", kind="json_endpoint", config={})

    with pytest.raises(ValidationError) as caught:
        publisher.full_clean()

    assert "url" in str(caught.value)
    assert "title_field" in str(caught.value)
