import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from actions.models import ActionRun
from actions.services import action_run_execute
from botsite.asgi import application
from botsite.demo import demo_install

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


async def connect(path: str = "/ws/chat/demo/", headers=(ORIGIN,)) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.fixture
async def demo():
    await database_sync_to_async(demo_install)()


async def run_pending_actions() -> None:
    """Do what a Celery worker does with each queued run."""

    def execute_all() -> None:
        for run_id in ActionRun.objects.filter(status="pending").values_list("pk", flat=True):
            action_run_execute(run_id=run_id)

    await database_sync_to_async(execute_all)()


async def test_help_is_acknowledged_echoed_and_answered_by_the_worker(demo):
    chat = await connect()
    client_id = str(uuid.uuid4())

    await chat.send_json_to({"type": "message", "text": "!help", "client_id": client_id})

    ack = await chat.receive_json_from()
    echo = await chat.receive_json_from()
    assert ack == {"type": "ack", "client_id": client_id, "id": echo["id"]}
    assert echo["sender"] == {"kind": "participant", "name": "Visitor"}
    assert echo["text"] == "!help"

    await run_pending_actions()
    reply = await chat.receive_json_from(timeout=5)
    assert reply["sender"] == {"kind": "bot", "name": "Demo bot"}
    assert "!ping — Answers pong." in reply["text"]
    await chat.disconnect()


async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(demo):
    chat = await connect()

    await chat.send_to(text_data="{not json")
    assert (await chat.receive_json_from())["code"] == "invalid_json"
    await chat.send_json_to({"type": "shout", "text": "x"})
    assert (await chat.receive_json_from())["code"] == "unknown_type"
    await chat.send_json_to({"type": "message", "text": ""})
    assert (await chat.receive_json_from())["code"] == "invalid_text"
    await chat.send_json_to({"type": "message", "text": "!ping", "client_id": "nope"})
    assert (await chat.receive_json_from())["code"] == "invalid_client_id"

    await chat.send_json_to({"type": "message", "text": "!ping"})
    assert (await chat.receive_json_from())["text"] == "!ping"
    await chat.disconnect()


async def test_text_over_the_limit_is_refused(demo, settings):
    settings.CHAT_MESSAGE_MAX_CHARS = 10
    chat = await connect()

    await chat.send_json_to({"type": "message", "text": "x" * 11})

    assert (await chat.receive_json_from())["code"] == "text_too_long"
    await chat.disconnect()


async def test_binary_frames_close_the_socket_with_1003(demo):
    chat = await connect()

    await chat.send_to(bytes_data=b"\x00\x01")

    assert await chat.receive_output() == {"type": "websocket.close", "code": 1003}


async def test_an_unknown_bot_gets_an_error_and_close_code_4404(db):
    chat = await connect("/ws/chat/nobody/")

    assert (await chat.receive_json_from())["code"] == "bot_not_found"
    assert await chat.receive_output() == {"type": "websocket.close", "code": 4404}


@pytest.mark.parametrize(
    "headers", [(), ((b"origin", b"https://evil.example"),)], ids=["no origin", "foreign"]
)
async def test_sockets_from_foreign_or_missing_origins_are_refused(demo, headers):
    communicator = WebsocketCommunicator(application, "/ws/chat/demo/", headers=list(headers))

    connected, _ = await communicator.connect()

    assert not connected


async def session_cookie_for(user) -> tuple[bytes, bytes]:
    """Log the user in as a browser would and return its session cookie header."""
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def test_replies_reach_every_socket_of_the_room_and_only_that_room(demo, django_user_model):
    user = await database_sync_to_async(django_user_model.objects.create_user)("ada", password="x")
    cookie = await session_cookie_for(user)
    other = await connect()  # an anonymous visitor: a room of their own
    sockets = [await connect(headers=(ORIGIN, cookie)) for _ in range(2)]

    await sockets[0].send_json_to({"type": "message", "text": "!ping"})
    for communicator in sockets:
        assert (await communicator.receive_json_from())["text"] == "!ping"
    await run_pending_actions()
    for communicator in sockets:
        assert (await communicator.receive_json_from(timeout=5))["text"] == "pong"
    assert await other.receive_nothing(timeout=0.3)

    # A new socket of the same user sees both messages as history, in order.
    late = await connect(headers=(ORIGIN, cookie))
    history = [await late.receive_json_from(), await late.receive_json_from()]
    assert [frame["text"] for frame in history] == ["!ping", "pong"]
    assert history[0]["sender"] == {"kind": "participant", "name": "ada"}
    for communicator in [*sockets, other, late]:
        await communicator.disconnect()
    await asyncio.sleep(0)
