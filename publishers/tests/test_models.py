import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from chat.demo import demo_install
from conversations.tests.factories import RoomFactory
from publishers.builtin.manual import ManualPublisher
from publishers.models import Delivery, Post, Publisher, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def news():
    return Publisher.objects.get(bot=demo_install(), slug="news")


def test_a_post_is_stored_once_per_publisher_and_source_id(news):
    with pytest.raises(IntegrityError):
        Post.objects.create(publisher=news, source_id="welcome", title="again")


def test_a_post_is_delivered_once_per_subscription(news):
    room = RoomFactory(bot=news.bot)
    subscription = Subscription.objects.create(publisher=news, destination="room", room=room)
    post = news.posts.get(source_id="welcome")
    Delivery.objects.create(post=post, subscription=subscription)

    with pytest.raises(IntegrityError):
        Delivery.objects.create(post=post, subscription=subscription)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"destination": "email"}, {"email"}),
        ({"destination": "webhook", "email": "a@example.com"}, {"endpoint", "email"}),
        ({"destination": "room"}, {"room"}),
    ],
)
def test_a_subscription_needs_exactly_the_field_of_its_destination(news, fields, errors):
    with pytest.raises(ValidationError) as caught:
        Subscription(publisher=news, **fields).full_clean()

    assert set(caught.value.message_dict) == errors


def test_the_database_refuses_a_subscription_with_mismatched_fields(news):
    with pytest.raises(IntegrityError):
        Subscription.objects.create(publisher=news, destination="email", email="")


def test_a_subscription_room_must_belong_to_the_publishers_bot(news):
    with pytest.raises(ValidationError) as caught:
        Subscription(publisher=news, destination="room", room=RoomFactory()).full_clean()

    assert caught.value.message_dict["room"] == ["The room belongs to another bot."]


def test_a_publisher_config_is_checked_by_its_type_and_intervals_are_bounded(news):
    news.interval_seconds = 5
    news.config = {"url": "https://example.com"}

    with pytest.raises(ValidationError) as caught:
        news.full_clean()

    assert {"interval_seconds", "config"} <= set(caught.value.message_dict)


def test_the_manual_publisher_fetches_nothing_new():
    assert list(ManualPublisher({}).fetch()) == []
