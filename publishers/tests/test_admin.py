import pytest
from django_celery_beat.models import PeriodicTask

from conversations.tests.factories import BotFactory, RoomFactory
from publishers import services
from publishers.models import Delivery, Post, Publisher, Subscription
from publishers.ports import SubscriptionsFromDatabase

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/publishers/publisher/"


@pytest.fixture
def bot():
    return BotFactory()


def publisher_form(bot, **fields: str) -> dict:
    """What the admin's "add publisher" page posts."""
    return {
        "bot": bot.pk,
        "slug": "news",
        "name": "News",
        "kind": "manual",
        "config": "{}",
        "timezone": "UTC",
        "is_enabled": "on",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
        **fields,
    }


def test_staff_add_a_crontab_publisher_and_its_beat_task_is_made(admin_client, bot):
    response = admin_client.post(
        f"{CHANGELIST}add/",
        publisher_form(bot, crontab="0 8 * * *", timezone="Europe/Oslo"),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    publisher = Publisher.objects.get()
    task = PeriodicTask.objects.get(name=f"publisher:{publisher.pk}")
    assert (task.crontab.hour, str(task.crontab.timezone)) == ("8", "Europe/Oslo")


def test_bulk_pause_and_bulk_delete_keep_beat_in_step(admin_client, bot):
    publishers = [
        services.publisher_save(
            publisher=Publisher(bot=bot, slug=f"p{n}", name=f"P{n}", kind="manual",
                                interval_seconds=60)
        )
        for n in range(2)
    ]  # fmt: skip
    ids = [p.pk for p in publishers]

    admin_client.post(CHANGELIST, {"action": "publishers_pause", "_selected_action": ids})
    assert not PeriodicTask.objects.filter(name__startswith="publisher:", enabled=True).exists()

    admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert not Publisher.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="publisher:").exists()


def test_publish_now_is_queued_for_an_enabled_publisher_and_refused_for_a_paused_one(
    admin_client, bot, django_capture_on_commit_callbacks
):
    on = services.publisher_save(publisher=Publisher(bot=bot, slug="on", name="On", kind="manual"))
    off = services.publisher_save(
        publisher=Publisher(bot=bot, slug="off", name="Off", kind="manual", is_enabled=False)
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            CHANGELIST,
            {"action": "publish_now", "_selected_action": [on.pk, off.pk]},
            follow=True,
        )

    page = response.content.decode()
    assert "On: fetching now." in page
    assert "Off: The publisher is paused; enable it first." in page
    assert len(callbacks) == 1


def test_a_post_written_in_the_admin_is_fanned_out(admin_client, bot):
    publisher = services.publisher_save(
        publisher=Publisher(bot=bot, slug="news", name="News", kind="manual")
    )
    room = RoomFactory(bot=bot)
    SubscriptionsFromDatabase(room=room, participant=None).subscribe(publisher="news", tag="")

    response = admin_client.post(
        "/admin/publishers/post/add/",
        {"publisher": publisher.pk, "title": "Written by staff", "tags": "Go, news"},
    )

    assert response.status_code == 302
    post = Post.objects.get()
    assert post.source_id.startswith("manual:")
    assert post.deliveries.get().subscription.room == room


def test_the_subscription_form_refuses_an_internal_webhook_url(admin_client, bot):
    publisher = services.publisher_save(
        publisher=Publisher(bot=bot, slug="news", name="News", kind="manual")
    )

    response = admin_client.post(
        "/admin/publishers/subscription/add/",
        {
            "publisher": publisher.pk,
            "destination": "webhook",
            "webhook_url": "http://127.0.0.1:9/hook",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "not allowed" in response.content.decode()
    assert not Subscription.objects.exists()


def test_staff_retry_failed_deliveries_from_the_list(admin_client, bot):
    publisher = services.publisher_save(
        publisher=Publisher(bot=bot, slug="news", name="News", kind="manual")
    )
    services.subscription_create(publisher=publisher, destination="email", email="a@example.com")
    services.post_create(publisher=publisher, title="Hello")
    Delivery.objects.update(status="dead", attempts=8, last_error="SMTP down")

    response = admin_client.post(
        "/admin/publishers/delivery/",
        {
            "action": "deliveries_retry",
            "_selected_action": list(Delivery.objects.values_list("pk", flat=True)),
        },
        follow=True,
    )

    assert "1 failed or dead deliveries will be sent again." in response.content.decode()
    assert Delivery.objects.get().status == "pending"


def test_a_webhook_subscription_by_url_makes_an_endpoint_and_shows_its_secret_once(
    admin_client, bot, settings
):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1:9"]
    publisher = services.publisher_save(
        publisher=Publisher(bot=bot, slug="news", name="News", kind="manual")
    )

    response = admin_client.post(
        "/admin/publishers/subscription/add/",
        {
            "publisher": publisher.pk,
            "destination": "webhook",
            "webhook_url": "http://127.0.0.1:9/hook",
            "tag": "Go",
            "is_active": "on",
        },
        follow=True,
    )

    subscription = Subscription.objects.get()
    assert (subscription.endpoint.url, subscription.tag) == ("http://127.0.0.1:9/hook", "go")
    assert subscription.endpoint.secret in response.content.decode()
    assert subscription.endpoint.bot == bot


def test_a_feed_on_a_private_address_is_a_form_error_and_saves_nothing(admin_client, bot):
    form = publisher_form(bot, kind="feed", config='{"url": "http://127.0.0.1:6379/"}')

    page = admin_client.post(f"{CHANGELIST}add/", {**form, "interval_seconds": "600"})

    assert "127.0.0.1 is a private or local address" in page.content.decode()
    assert (Publisher.objects.count(), PeriodicTask.objects.count()) == (0, 0)
