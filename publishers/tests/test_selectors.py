import pytest

from chat.demo import demo_install
from conversations.tests.factories import BotFactory
from publishers.models import Post, Publisher
from publishers.selectors import PostsFromDatabase, posts_latest

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    return demo_install()


def titles(queryset) -> list[str]:
    return [post.title for post in queryset]


def test_posts_come_newest_first_with_limit_and_offset(demo):
    assert titles(posts_latest(bot_id=demo.pk, publisher=None, limit=2, offset=1, tag=None)) == [
        "Why we match staff patterns with RE2",
        "Live chat with Django Channels",
    ]


def test_a_tag_matches_whole_tags_only_and_ignores_case(demo):
    go = posts_latest(bot_id=demo.pk, publisher=None, limit=10, offset=0, tag="GoLang")
    partial = posts_latest(bot_id=demo.pk, publisher=None, limit=10, offset=0, tag="go")

    assert titles(go) == ["Range-over-func iterators in Go", "Generics in Go, two years on"]
    assert titles(partial) == []


def test_only_the_bots_own_enabled_publishers_count(demo):
    other = Publisher.objects.create(bot=BotFactory(), slug="news", name="Other", kind="manual")
    Post.objects.create(publisher=other, source_id="x", title="Someone else's", tags=["golang"])
    Publisher.objects.filter(bot=demo, slug="news").update(is_enabled=False)

    assert titles(posts_latest(bot_id=demo.pk, publisher=None, limit=5, offset=0, tag=None)) == []


def test_the_port_filters_by_publisher_slug(demo):
    port = PostsFromDatabase(bot_id=demo.pk)

    assert len(port.latest(publisher="news", limit=3, offset=0, tag=None)) == 3
    assert port.latest(publisher="elsewhere", limit=3, offset=0, tag=None) == []
