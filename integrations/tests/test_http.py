"""What every endpoint shares: error shape, limits, throttling, pagination, schema, docs."""

from datetime import timedelta

import pytest
import yaml
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from botsite.tests.broker import tasks_taken
from conversations.memory import MemoryScope, memory_recall, memory_remember
from conversations.tests.factories import MessageFactory
from integrations.models import AuditEntry
from integrations.tests.conftest import client_for
from publishers.models import Post

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_is_a_404_in_the_error_shape(api):
    response = api.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "There is no such API path."}


def test_a_method_the_endpoint_lacks_is_a_405_in_the_error_shape(api, own):
    response = api.delete(reverse("api:message-list"))

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_a_body_that_is_not_json_is_a_415(api):
    response = api.post(reverse("api:bot-list"), "slug=x", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_malformed_json_is_a_400_parse_error(api):
    response = api.post(reverse("api:bot-list"), "{nope", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_body_over_the_limit_is_a_413_and_changes_nothing(api, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = {"slug": "big", "name": "x" * 2000}

    response = api.post(reverse("api:bot-list"), body, format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert api.get(reverse("api:bot-detail", args=["big"])).status_code == 404


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=BoUnDaRy"],
)
def test_a_form_body_over_the_limit_is_a_413_and_changes_nothing(api, settings, content_type):
    settings.API_MAX_BODY_BYTES = 1000
    if content_type.startswith("multipart"):
        body = (
            '--BoUnDaRy\r\nContent-Disposition: form-data; name="slug"\r\n\r\nbig\r\n'
            '--BoUnDaRy\r\nContent-Disposition: form-data; name="upload"; filename="a"\r\n'
            f"\r\n{'x' * 2000}\r\n--BoUnDaRy--\r\n"
        )
    else:
        body = f"slug=big&name={'x' * 2000}"

    response = api.post(reverse("api:bot-list"), body, content_type=content_type)

    assert response.status_code == 413
    assert response.json() == {
        "code": "request_too_large",
        "detail": "The request body is over 1000 bytes.",
    }
    assert api.get(reverse("api:bot-detail", args=["big"])).status_code == 404


def test_a_token_past_its_burst_is_throttled_with_retry_after(api, settings):
    settings.API_THROTTLE_BURST = 3
    settings.API_THROTTLE_PER_MINUTE = 6

    answers = [api.get(reverse("api:bot-list")) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["code"] == "throttled"
    assert answers[-1]["Retry-After"] == "10"


def test_tokens_have_buckets_of_their_own(api, own, foreign, settings):
    settings.API_THROTTLE_BURST = 1
    assert api.get(reverse("api:bot-list")).status_code == 200
    assert api.get(reverse("api:bot-list")).status_code == 429

    assert client_for(foreign.secret).get(reverse("api:bot-list")).status_code == 200


def test_messages_page_by_cursor_and_filter_by_room_participant_and_time(api, own):
    later = [MessageFactory(room=own.room, participant=own.participant) for _ in range(3)]
    other_room = MessageFactory(room__bot=own.bot, participant=own.participant)
    own.message.created_at = timezone.now() - timedelta(days=2)
    own.message.save()

    first = api.get(reverse("api:message-list"), {"room": own.room.pk, "page_size": 2}).json()
    second = api.get(first["next"]).json()
    recent = api.get(
        reverse("api:message-list"),
        {"room": own.room.pk, "after": (timezone.now() - timedelta(days=1)).isoformat()},
    ).json()
    by_participant = api.get(
        reverse("api:message-list"), {"participant": own.participant.pk}
    ).json()

    paged = [m["id"] for m in first["results"] + second["results"]]
    assert paged == [own.message.pk, *(m.pk for m in later)]
    assert [m["id"] for m in recent["results"]] == [m.pk for m in later]
    assert other_room.pk in {m["id"] for m in by_participant["results"]}


def test_lists_order_by_a_permitted_field_and_refuse_others_silently(api, own):
    for priority in (3, 9):
        api.post(
            reverse("api:pattern-list"),
            {
                "bot": own.bot.slug,
                "action": own.action.pk,
                "regex": f"p{priority}",
                "priority": priority,
            },
            format="json",
        )

    rows = api.get(reverse("api:pattern-list"), {"ordering": "-priority"}).json()["results"]

    assert [row["priority"] for row in rows] == [9, 3, 0]


def test_deleting_a_memory_entry_drops_the_cached_value(
    api, own, django_capture_on_commit_callbacks
):
    scope = MemoryScope(own.bot.pk)
    entry = memory_remember(scope=scope, key="city", value="Oslo")
    assert memory_recall(scope=scope, key="city") == "Oslo"  # now cached

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(reverse("api:memory-entry-detail", args=[entry.pk]))

    assert response.status_code == 204
    assert cache.get(scope.cache_key("city")) is None
    assert memory_recall(scope=scope, key="city") is None


def test_staff_use_the_browsable_api_with_their_session(admin_client, own):
    response = admin_client.get(reverse("api:bot-list"), HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert "Own" in response.content.decode()


def test_a_non_staff_session_is_refused(client, django_user_model, own):
    client.force_login(django_user_model.objects.create_user("someone"))

    response = client.get(reverse("api:bot-list"))

    assert response.status_code == 403


def test_the_schema_describes_bodies_errors_and_the_token_scheme(client):
    response = client.get(reverse("api:schema"))

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["components"]["securitySchemes"]["apiToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token created in the admin: `Authorization: Bearer bst_…`.",
    }
    create = schema["paths"]["/api/v1/actions/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ActionRequest"
    )
    for code in ("201", "400", "401", "403", "413", "415", "429"):
        assert code in create["responses"], code
    error = create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/Error")
    message_post = schema["paths"]["/api/v1/bots/{bot_slug}/messages/"]["post"]
    assert {"200", "202", "404", "422"} <= set(message_post["responses"])
    assert {"name": "Idempotency-Key", "in": "header"}.items() <= message_post["parameters"][
        0
    ].items()


def test_the_docs_page_serves_swagger_ui_from_our_own_static_files(client):
    response = client.get(reverse("api:docs"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower()


def test_a_webhook_endpoint_shows_its_secret_on_create_and_rotate_only(api, own):
    created = api.post(
        reverse("api:webhook-endpoint-list"),
        {"bot": own.bot.slug, "url": "http://127.0.0.1:9/hook"},
        format="json",
    )
    endpoint_id = created.json()["id"]
    read = api.get(reverse("api:webhook-endpoint-detail", args=[endpoint_id])).json()
    rotated = api.post(reverse("api:webhook-endpoint-rotate-secret", args=[endpoint_id]))

    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    assert "secret" not in read
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created.json()["secret"]
    entry = AuditEntry.objects.filter(model="webhooks.webhookendpoint").latest("id")
    assert entry.after["secret"] == "(hidden)"


def test_publish_now_queues_a_run_and_refuses_a_paused_publisher(
    api, own, django_capture_on_commit_callbacks
):
    tasks_taken("publishers.tasks.publisher_run")  # none left by other tests
    url = reverse("api:publisher-publish-now", args=[own.publisher.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url)
    own.publisher.is_enabled = False
    own.publisher.save()
    paused = api.post(url)

    assert response.status_code == 202
    assert tasks_taken("publishers.tasks.publisher_run") == [[own.publisher.pk]]
    assert paused.status_code == 400
    assert paused.json()["code"] == "publisher_paused"


def test_retry_sends_a_dead_delivery_again_and_leaves_a_sent_one(api, own):
    own.delivery.status = "dead"
    own.delivery.save()
    url = reverse("api:delivery-retry", args=[own.delivery.pk])

    first = api.post(url)
    own.delivery.refresh_from_db()
    again = api.post(url)

    assert first.status_code == 202
    assert first.json() == {"count": 1}
    assert own.delivery.status == "pending"
    assert again.json() == {"count": 0}


def test_a_post_created_through_the_api_is_fanned_out(api, own):
    response = api.post(
        reverse("api:post-list"), {"publisher": own.publisher.pk, "title": "News!"}, format="json"
    )

    assert response.status_code == 201
    post = Post.objects.get(pk=response.json()["id"])
    assert post.deliveries.get().subscription == own.subscription


def test_null_for_a_list_or_json_field_is_a_400_not_a_database_error(api, own):
    response = api.patch(
        reverse("api:room-detail", args=[own.room.pk]), {"settings": None}, format="json"
    )
    names = api.patch(
        reverse("api:bot-detail", args=[own.bot.slug]), {"names": None}, format="json"
    )

    assert response.status_code == 400
    assert "settings" in response.json()["fields"]
    assert names.status_code == 400
    assert "names" in names.json()["fields"]


def test_ids_too_large_for_the_database_are_refused_before_it(api):
    filtered = api.get(reverse("api:message-list"), {"room": 2**70})
    detail = api.get(f"/api/v1/posts/{2**70}/")

    assert filtered.status_code == 400
    assert "room" in filtered.json()["fields"]
    assert detail.status_code == 404
    assert detail.json()["code"] == "not_found"


def test_a_path_with_a_line_break_is_a_json_404(api):
    response = api.get("/api/v1/rooms/a%0Ab/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
