import pytest
from django.urls import reverse

from conversations.models import Message
from integrations.models import ApiToken
from integrations.tests.conftest import client_for
from integrations.tests.factories import token_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_token(demo_bot) -> tuple[ApiToken, str]:
    return token_make([demo_bot])


def url(slug: str = "demo") -> str:
    return reverse("api:bot-messages", args=[slug])


def post(client, headers=None, **body):
    return client.post(
        url(), {"participant": "crm-7", **body}, format="json", headers=headers or {}
    )


def test_a_token_of_the_bot_gets_the_replies_in_the_response(demo_token):
    response = post(client_for(demo_token[1]), text="!ping")

    assert response.status_code == 200
    assert [reply["text"] for reply in response.json()["replies"]] == ["pong"]


def test_a_queued_action_answers_202_with_where_to_read_the_replies(demo_token):
    response = post(client_for(demo_token[1]), text="!latest-post", wait=0)

    assert response.status_code == 202
    body = response.json()
    message = Message.objects.get(pk=body["message"]["id"])
    assert body["replies_url"] == (
        f"/api/v1/messages/?room={message.room_id}&after_id={message.pk}&sender_kind=bot"
    )


def test_a_token_of_another_bot_gets_a_404_and_nothing_is_stored(demo_bot, own):
    response = post(client_for(own.secret), text="!ping")

    assert response.status_code == 404
    assert response.json()["code"] == "bot_not_found"
    assert not Message.objects.filter(room__bot=demo_bot).exists()


def test_a_read_only_token_may_not_post_messages(demo_bot):
    _, secret = token_make([demo_bot], scope="read")

    response = post(client_for(secret), text="!ping")

    assert response.status_code == 403
    assert response.json()["code"] == "read_only_token"
    assert not Message.objects.exists()


def test_a_retry_with_the_same_idempotency_key_is_stored_once_and_answered_again(demo_token):
    client = client_for(demo_token[1])
    headers = {"Idempotency-Key": "order-1234"}

    first = post(client, headers, text="!ping")
    again = post(client, headers, text="!ping", wait=1)

    assert first.status_code == again.status_code == 200
    assert again.json()["is_duplicate"] is True
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    assert [reply["text"] for reply in again.json()["replies"]] == ["pong"]
    assert Message.objects.filter(sender_kind="participant").count() == 1
    assert Message.objects.filter(sender_kind="bot").count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_422_and_stores_nothing(demo_token):
    client = client_for(demo_token[1])
    post(client, {"Idempotency-Key": "order-1234"}, text="!ping")

    response = post(client, {"Idempotency-Key": "order-1234"}, text="!help")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Message.objects.filter(sender_kind="participant").count() == 1


def test_idempotency_keys_of_two_tokens_do_not_collide(demo_bot):
    first, second = token_make([demo_bot])[1], token_make([demo_bot])[1]

    post(client_for(first), {"Idempotency-Key": "k"}, text="!ping")
    response = post(client_for(second), {"Idempotency-Key": "k"}, text="!ping")

    assert response.json()["is_duplicate"] is False
    assert Message.objects.filter(sender_kind="participant").count() == 2


def test_an_idempotency_key_with_a_client_id_is_refused(demo_token):
    response = post(
        client_for(demo_token[1]),
        {"Idempotency-Key": "k"},
        text="!ping",
        client_id="8f8a5c0e-6b5e-4a59-8f4f-3f9b8f3f0f11",
    )

    assert response.status_code == 400
    assert "client_id" in response.json()["fields"]
    assert not Message.objects.exists()
