import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from actions.models import ActionRun
from actions.selectors import replies_wait
from actions.services import action_run_execute
from conversations.models import Message, Room

pytestmark = pytest.mark.django_db

URL = reverse("api:bot-messages", args=["demo"])


def post(client, **body):
    return client.post(URL, {"participant": "user-42", **body}, content_type="application/json")


def test_an_inline_action_is_answered_in_the_response(admin_client, demo_bot):
    response = post(admin_client, text="!ping", participant_name="Ada")

    assert response.status_code == 200
    body = response.json()
    assert body["message"]["sender"] == {"kind": "participant", "name": "Ada"}
    assert [reply["text"] for reply in body["replies"]] == ["pong"]
    assert body["is_complete"] is True
    assert Room.objects.get().external_id == "participant:user-42"


def test_a_queued_action_that_does_not_finish_in_time_answers_202(admin_client, demo_bot):
    response = post(admin_client, text="!latest-post", wait=0)

    assert response.status_code == 202
    assert response.json()["replies"] == []
    assert ActionRun.objects.get().status == ActionRun.Status.PENDING


def test_a_retried_post_with_the_same_client_id_is_stored_once(admin_client, demo_bot):
    client_id = str(uuid.uuid4())

    first = post(admin_client, text="!ping", client_id=client_id).json()
    again = post(admin_client, text="!ping", client_id=client_id).json()

    assert again["is_duplicate"] is True
    assert again["message"]["id"] == first["message"]["id"]
    assert [reply["text"] for reply in again["replies"]] == ["pong"]
    assert Message.objects.filter(sender_kind="participant").count() == 1


def test_invalid_input_gets_field_errors_and_changes_nothing(admin_client, demo_bot):
    response = post(admin_client, text="", wait=99)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"text", "wait"}
    assert not Message.objects.exists()


def test_an_unknown_bot_is_a_404_with_a_code(admin_client, db):
    response = admin_client.post(
        reverse("api:bot-messages", args=["nobody"]),
        {"text": "hi", "participant": "p"},
        content_type="application/json",
    )

    assert response.status_code == 404
    assert response.json()["code"] == "bot_not_found"


def test_anonymous_callers_are_refused(client, demo_bot):
    response = post(client, text="!ping")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert not Message.objects.exists()


def test_a_batched_caller_gets_the_combined_reply_too(admin_client, demo_bot):
    demo_bot.batch_window_ms = 1000
    demo_bot.save()
    post(admin_client, text="!ping", participant="ada", room="team", wait=0)
    post(admin_client, text="!ping", participant="bob", room="team", wait=0)
    ActionRun.objects.update(run_after=timezone.now())
    action_run_execute(run_id=ActionRun.objects.order_by("id").first().pk)

    again = post(admin_client, text="!ping", participant="bob", room="team", wait=0)
    bob_first = Message.objects.filter(participant__external_id="bob").order_by("id").first()
    replies, is_complete = replies_wait(message_id=bob_first.pk, timeout_seconds=0)

    assert is_complete
    assert [reply.text for reply in replies] == ["ada, bob: pong"]
    assert again.status_code == 202, "the new message waits for its own window"


@pytest.mark.parametrize("text", ["hi \x00 there", "hi \ud800 there"], ids=["NUL", "surrogate"])
def test_text_no_database_can_store_is_a_400_that_says_why_and_stores_nothing(
    admin_client, demo_bot, text
):
    response = post(admin_client, text=text)

    assert response.status_code == 400
    [detail] = response.json()["fields"]["text"]
    assert detail.startswith("This field contains a ")
    assert "(U+" in detail
    assert not Message.objects.exists()


def test_json_nested_past_the_limit_is_a_400_naming_it_not_a_debug_page(
    admin_client, demo_bot, settings
):
    settings.DEBUG = True  # as in the embedded run, where a 500 would show the debug page
    body = '{"participant": "p", "text": "!ping", "extra": ' + "[" * 50_000 + "]" * 50_000 + "}"

    response = admin_client.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "parse_error",
        "detail": "JSON parse error - JSON nested deeper than "
        f"{settings.JSON_MAX_DEPTH} levels (JSON_MAX_DEPTH).",
    }
    assert not Message.objects.exists()
