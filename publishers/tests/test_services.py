import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from chat.demo import demo_install
from conversations.models import Bot
from conversations.tests.factories import BotFactory, RoomFactory
from publishers import services
from publishers.base import PostItem, PublisherType
from publishers.exceptions import PublishingError, SubscriptionInvalid
from publishers.models import Delivery, Post, Publisher, PublisherRun, Subscription
from publishers.registry import publisher_types
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


class CountingPublisher(PublisherType):
    """Offers the items of its config; while a run fetches, another run can be started."""

    key = "counting"
    label = "Counting"
    during_fetch = None

    def fetch(self):
        if CountingPublisher.during_fetch:
            CountingPublisher.during_fetch()
        return [PostItem(source_id=str(n), title=f"Item {n}", tags=("go",)) for n in range(3)]


@pytest.fixture
def counting():
    with publisher_types.override(CountingPublisher):
        yield
    CountingPublisher.during_fetch = None


def publisher_make(**fields) -> Publisher:
    values = {"bot": BotFactory(), "slug": "news", "name": "News", "kind": "manual", **fields}
    return services.publisher_save(publisher=Publisher(**values))


def test_an_interval_publisher_gets_a_beat_task_that_runs_it():
    publisher = publisher_make(interval_seconds=60)

    task = PeriodicTask.objects.get(name=f"publisher:{publisher.pk}")
    assert (task.task, json.loads(task.args), task.enabled) == (
        "publishers.tasks.publisher_run",
        [publisher.pk],
        True,
    )
    assert (task.interval.every, task.interval.period, task.crontab) == (60, "seconds", None)
    assert publisher.periodic_task == task


def test_a_crontab_with_a_time_zone_replaces_the_interval_on_change():
    publisher = publisher_make(interval_seconds=60)
    publisher.interval_seconds = None
    publisher.crontab = "30 7 * * 1-5"
    publisher.timezone = "Europe/Paris"
    services.publisher_save(publisher=publisher)

    task = PeriodicTask.objects.get(name=f"publisher:{publisher.pk}")
    assert task.interval is None
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "7", "1-5")
    assert str(task.crontab.timezone) == "Europe/Paris"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"interval_seconds": 60, "crontab": "* * * * *"}, "crontab"),
        ({"crontab": "every day"}, "crontab"),
        ({"crontab": "99 * * * *"}, "crontab"),
        ({"crontab": "0 0 * * funday"}, "crontab"),
        ({"crontab": "0 * * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"interval_seconds": 5}, "interval_seconds"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_is_saved(fields, field):
    with pytest.raises(ValidationError) as caught:
        publisher_make(**fields)

    assert field in caught.value.message_dict
    assert not Publisher.objects.exists()
    assert not PeriodicTask.objects.filter(task="publishers.tasks.publisher_run").exists()


def test_pausing_resuming_and_going_on_demand_follow_the_publisher():
    publisher = publisher_make(interval_seconds=60)
    queryset = Publisher.objects.filter(pk=publisher.pk)

    assert services.publishers_enable(publishers=queryset, is_enabled=False) == 1
    assert not PeriodicTask.objects.get(name=f"publisher:{publisher.pk}").enabled
    services.publishers_enable(publishers=queryset, is_enabled=True)
    assert PeriodicTask.objects.get(name=f"publisher:{publisher.pk}").enabled

    publisher.refresh_from_db()
    publisher.interval_seconds = None
    services.publisher_save(publisher=publisher)
    assert not PeriodicTask.objects.filter(name=f"publisher:{publisher.pk}").exists()


def test_deleting_publishers_deletes_their_beat_tasks_also_when_their_bot_goes():
    kept = publisher_make(interval_seconds=60)
    gone = publisher_make(bot=BotFactory(), slug="other", interval_seconds=60)
    services.publishers_delete(publishers=Publisher.objects.filter(pk=gone.pk))
    assert not PeriodicTask.objects.filter(name=f"publisher:{gone.pk}").exists()

    Bot.objects.filter(pk=kept.bot_id).delete()  # cascades past the service
    assert services.publisher_schedules_orphans_delete() == 1
    assert not PeriodicTask.objects.filter(task="publishers.tasks.publisher_run").exists()


def test_the_orphan_sweep_keeps_a_publisher_saved_while_it_runs():
    gone = publisher_make(interval_seconds=60)
    Publisher.objects.filter(pk=gone.pk).delete()
    statements: list[str] = []
    saved_meanwhile: list[Publisher] = []

    def save_a_publisher_before_the_second_statement(execute, sql, params, many, context):
        statements.append(sql)
        if len(statements) == 2:  # the publisher's own statements pass here too, later
            saved_meanwhile.append(publisher_make(slug="fresh", interval_seconds=60))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(save_a_publisher_before_the_second_statement):
        assert services.publisher_schedules_orphans_delete() == 1

    assert not PeriodicTask.objects.filter(name=f"publisher:{gone.pk}").exists()
    assert PeriodicTask.objects.filter(name=f"publisher:{saved_meanwhile[0].pk}").exists()


def test_a_run_of_a_deleted_publisher_removes_its_stray_beat_task():
    publisher = publisher_make(interval_seconds=60)
    Publisher.objects.filter(pk=publisher.pk).delete()

    assert services.publisher_run(publisher_id=publisher.pk) is None
    assert not PeriodicTask.objects.filter(name=f"publisher:{publisher.pk}").exists()


def past_its_first_run(publisher: Publisher) -> Publisher:
    """As if a run had taken in the source's backlog already (see test_first_run)."""
    key = services.publisher_source_key(publisher=publisher)
    Publisher.objects.filter(pk=publisher.pk).update(source_seen=key)
    return publisher


def test_a_run_stores_new_items_with_one_delivery_per_matching_subscription(counting):
    publisher = past_its_first_run(publisher_make(kind="counting"))
    room = RoomFactory(bot=publisher.bot)
    services.subscription_create(publisher=publisher, destination="room", room=room)
    services.subscription_create(publisher=publisher, destination="email", email="A@example.com")
    services.subscription_create(
        publisher=publisher, destination="email", email="b@example.com", tag="rust"
    )

    run = services.publisher_run(publisher_id=publisher.pk)
    services.publisher_run(publisher_id=publisher.pk)

    assert (run.items_seen, run.posts_new) == (3, 3)
    assert Post.objects.filter(publisher=publisher).count() == 3
    assert Delivery.objects.count() == 6  # 3 posts, each to the room and a@: b@ follows another tag
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    assert PublisherRun.objects.filter(publisher=publisher).count() == 2


def test_overlapping_runs_skip_and_publish_nothing_twice(counting):
    publisher = publisher_make(kind="counting")
    inner = []
    CountingPublisher.during_fetch = lambda: inner.append(
        services.publisher_run(publisher_id=publisher.pk)
    )

    outer = services.publisher_run(publisher_id=publisher.pk)

    assert inner == [None]  # the second beat's run found the lease taken
    assert outer.posts_new == 3
    assert PublisherRun.objects.count() == 1


def test_a_run_past_its_lease_is_taken_over(counting):
    publisher = publisher_make(kind="counting")
    Publisher.objects.filter(pk=publisher.pk).update(
        run_lease_until=timezone.now() - timedelta(seconds=1)
    )

    assert services.publisher_run(publisher_id=publisher.pk).posts_new == 3


def test_a_run_that_meets_an_already_stored_item_skips_it(counting):
    publisher = publisher_make(kind="counting")
    Post.objects.create(publisher=publisher, source_id="1", title="stored by another run")

    run = services.publisher_run(publisher_id=publisher.pk)

    assert run.posts_new == 2
    assert Post.objects.get(source_id="1").title == "stored by another run"


def test_publish_now_refuses_a_paused_publisher():
    publisher = publisher_make(is_enabled=False)

    with pytest.raises(PublishingError, match="paused"):
        services.publisher_run_now(publisher=publisher)


def test_a_manual_post_is_fanned_out_at_once():
    news = Publisher.objects.get(bot=demo_install(), slug="news")
    room = RoomFactory(bot=news.bot)
    services.subscription_create(publisher=news, destination="room", room=room)

    post = services.post_create(publisher=news, title="Hello", tags=["Go"])

    assert post.tags == ["go"]
    assert post.deliveries.get().subscription.room == room


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"destination": "email", "email": "not-an-email"}, "email"),
        ({"destination": "webhook", "webhook_url": "http://169.254.169.254/"}, "webhook_url"),
        ({"destination": "webhook", "webhook_url": "http://[::1]:8000/"}, "webhook_url"),
        ({"destination": "room"}, "room"),
    ],
)
@pytest.mark.parametrize("service", ["subscription_create", "subscription_check"])
def test_a_bad_subscription_is_refused_and_changes_nothing(fields, field, service):
    publisher = publisher_make()

    with pytest.raises(SubscriptionInvalid) as caught:
        getattr(services, service)(publisher=publisher, **fields)

    assert field in caught.value.fields
    assert not Subscription.objects.exists()
    assert not WebhookEndpoint.objects.exists()


def test_checking_a_good_subscription_writes_nothing_and_a_repeat_is_refused(settings):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1:9"]
    publisher = publisher_make()
    room = RoomFactory(bot=publisher.bot)
    by_url = {"destination": "webhook", "webhook_url": "http://127.0.0.1:9/hook"}

    services.subscription_check(publisher=publisher, **by_url)
    services.subscription_check(publisher=publisher, destination="room", room=room)

    assert not Subscription.objects.exists()
    assert not WebhookEndpoint.objects.exists()
    services.subscription_create(publisher=publisher, destination="room", room=room)
    with pytest.raises(SubscriptionInvalid):
        services.subscription_check(publisher=publisher, destination="room", room=room)


def test_a_webhook_subscription_by_url_gets_an_endpoint_and_its_secret_once(settings):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1:9"]
    publisher = publisher_make()

    subscription, secret = services.subscription_create(
        publisher=publisher, destination="webhook", webhook_url="http://127.0.0.1:9/hook"
    )

    assert subscription.endpoint.secret == secret
    assert subscription.endpoint.bot == publisher.bot
    with pytest.raises(SubscriptionInvalid):  # the same again
        services.subscription_create(
            publisher=publisher, destination="webhook", endpoint=subscription.endpoint
        )
