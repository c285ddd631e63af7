"""The integrators' API on the production topology: daphne, a Celery worker and beat as
separate processes on PostgreSQL and Redis, driven over HTTP as an integrator would."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from botsite.tests.processes import wait_until
from botsite.tests.subprocess_env import outbound_allowed
from conversations.models import Bot, Message
from integrations.tests.factories import token_make
from webhooks.services import webhook_endpoint_create
from webhooks.tests.receiver import webhook_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.fixture
def callback_receiver(settings):
    with webhook_receiver() as receiver:
        settings.HTTP_ALLOWED_HOSTS = [outbound_allowed(receiver.url)]
        yield receiver


@pytest.fixture
def services_env(services_env, callback_receiver):
    # The worker sends the callback: it may reach the receiver's port, and no other.
    return {**services_env, "HTTP_ALLOWED_HOSTS": outbound_allowed(callback_receiver.url)}


def test_sync_reply_async_callback_and_idempotent_retry(topology, callback_receiver):
    demo = Bot.objects.get(slug="demo")
    _, secret = token_make([demo])
    url = f"http://127.0.0.1:{topology.port}/api/v1/bots/demo/messages/"
    auth = {"Authorization": f"Bearer {secret}"}

    def post(body: dict, **headers: str) -> httpx.Response:
        return httpx.post(url, json=body, headers={**auth, **headers}, timeout=30)

    # Synchronous: an inline action's reply is in the response.
    answer = post({"text": "!ping", "participant": "crm-7"})
    assert answer.status_code == 200, answer.text
    assert [reply["text"] for reply in answer.json()["replies"]] == ["pong"]

    # Asynchronous: a worker's action is a 202; its reply is pushed, signed, to the callback.
    receiver = callback_receiver
    endpoint, receiver.secret = webhook_endpoint_create(url=receiver.url, bot=demo)
    queued = post(
        {
            "text": "!latest-post",
            "participant": "crm-8",
            "wait": 0,
            "callback_endpoint": endpoint.pk,
        },
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["replies_url"].startswith("/api/v1/messages/?room=")
    wait_until(
        lambda: receiver.processed,
        timeout=30,
        what="the reply pushed to the callback",
        watch=topology.processes,
    )
    (body,) = receiver.bodies.values()
    assert receiver.bad_signatures == 0
    assert body["type"] == "reply.sent"
    assert body["data"]["message"]["text"] == "• Schedules that survive restarts"
    assert body["data"]["message"]["reply_to"] == queued.json()["message"]["id"]
    replies = httpx.get(
        f"http://127.0.0.1:{topology.port}{queued.json()['replies_url']}",
        headers=auth,
        timeout=10,
    ).json()["results"]
    assert [reply["id"] for reply in replies] == [body["data"]["message"]["id"]]

    # A retried post with the same Idempotency-Key is stored once and answered again.
    first = post({"text": "!ping", "participant": "crm-9"}, **{"Idempotency-Key": "order-77"})
    retry = post({"text": "!ping", "participant": "crm-9"}, **{"Idempotency-Key": "order-77"})
    assert retry.json()["message"]["id"] == first.json()["message"]["id"]
    assert retry.json()["is_duplicate"] is True
    stored = Message.objects.filter(room__external_id="participant:crm-9")
    assert stored.filter(sender_kind="participant").count() == 1
    assert stored.filter(sender_kind="bot").count() == 1

    # Two copies of one post at the same moment (a client's retry racing its original).
    with ThreadPoolExecutor(max_workers=2) as pool:
        racing = list(
            pool.map(
                lambda _: post(
                    {"text": "!ping", "participant": "crm-10"}, **{"Idempotency-Key": "order-78"}
                ),
                range(2),
            )
        )
    assert [answer.status_code for answer in racing] == [200, 200]
    assert len({answer.json()["message"]["id"] for answer in racing}) == 1
    raced = Message.objects.filter(room__external_id="participant:crm-10")
    assert raced.filter(sender_kind="participant").count() == 1
