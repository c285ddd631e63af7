import asyncio
import threading
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from actions.models import ActionRun
from actions.services import action_run_execute
from botsite.asgi import application
from chat import identity
from chat.demo import demo_install
from conversations.models import Bot, Message

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


async def connect(path="/ws/chat/demo/", headers=(ORIGIN,)) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def greet(chat: WebsocketCommunicator, **hello) -> dict:
    await chat.send_json_to({"type": "hello", **hello})
    welcome = await chat.receive_json_from()
    assert welcome["type"] == "welcome", welcome
    return welcome


async def frames_until_quiet(chat: WebsocketCommunicator) -> list[dict]:
    frames = []
    while not await chat.receive_nothing(timeout=0.2):
        frames.append(await chat.receive_json_from())
    return frames


@pytest.fixture
async def demo():
    await database_sync_to_async(demo_install)()


async def run_pending_actions() -> None:
    """Do what a Celery worker does with each queued run."""

    def execute_all() -> None:
        for run_id in ActionRun.objects.filter(status="pending").values_list("pk", flat=True):
            action_run_execute(run_id=run_id)

    await database_sync_to_async(execute_all)()


async def test_help_is_acknowledged_echoed_shown_as_worked_on_and_answered(demo):
    chat = await connect()
    welcome = await greet(chat)
    client_id = str(uuid.uuid4())

    await chat.send_json_to({"type": "message", "text": "!help", "client_id": client_id})

    ack, echo, typing = [await chat.receive_json_from() for _ in range(3)]
    assert ack == {"type": "ack", "client_id": client_id, "id": echo["id"]}
    assert echo["sender"] == {"kind": "participant", "name": "Visitor"}
    assert typing == {"type": "typing", "is_typing": True}
    assert identity.visitor_token_read(welcome["visitor"])

    await run_pending_actions()
    reply, stopped = await chat.receive_json_from(timeout=5), await chat.receive_json_from()
    assert reply["sender"] == {"kind": "bot", "name": "Demo bot"}
    assert "!ping — Answers pong." in reply["text"]
    assert stopped == {"type": "typing", "is_typing": False}
    await chat.disconnect()


async def test_a_visitor_token_brings_back_the_same_room_and_what_was_missed(demo):
    first = await connect()
    token = (await greet(first))["visitor"]
    await first.send_json_to({"type": "message", "text": "!ping"})
    seen = await frames_until_quiet(first)
    await first.disconnect()
    last_seen = seen[0]["id"]  # the client saw its own message, then dropped

    again = await connect()
    welcome = await greet(again, visitor=token, last_id=last_seen)
    missed = await frames_until_quiet(again)

    assert welcome["visitor"] == token
    assert [frame["text"] for frame in missed] == ["pong"]
    stranger = await connect()
    await greet(stranger)
    assert await frames_until_quiet(stranger) == [], "a new visitor has an empty room"


async def test_the_chat_pages_cookie_identifies_a_visitor_who_sends_no_token(demo):
    _, token = identity.visitor_token_issue()
    cookie = (b"cookie", f"{identity.COOKIE_NAME}={token}".encode())
    chat = await connect(headers=(ORIGIN, cookie))

    welcome = await greet(chat)

    assert welcome["visitor"] == token


async def test_a_forged_or_expired_token_makes_a_new_visitor(demo, settings):
    chat = await connect()
    welcome = await greet(chat, visitor="not-a-signed-token")
    assert welcome["visitor"] != "not-a-signed-token"

    settings.CHAT_VISITOR_MAX_AGE_SECONDS = -1
    assert identity.visitor_token_read(welcome["visitor"]) is None


async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(demo):
    chat = await connect()
    await greet(chat)

    for frame, code in [
        ("{not json", "invalid_json"),
        ('{"type": "shout", "text": "x"}', "unknown_type"),
        ('{"type": "message", "text": ""}', "invalid_text"),
        ('{"type": "message", "text": "!ping", "client_id": "nope"}', "invalid_client_id"),
        ('{"type": "hello"}', "already_greeted"),
        ("[1, 2]", "invalid_frame"),
    ]:
        await chat.send_to(text_data=frame)
        assert (await chat.receive_json_from())["code"] == code

    await chat.send_json_to({"type": "message", "text": "!ping"})
    assert (await chat.receive_json_from())["text"] == "!ping"
    await chat.disconnect()


async def test_a_bad_last_id_is_refused(demo):
    chat = await connect()

    await chat.send_json_to({"type": "hello", "last_id": "12"})

    assert (await chat.receive_json_from())["code"] == "invalid_last_id"


async def test_text_over_the_limit_is_refused(demo, settings):
    settings.CHAT_MESSAGE_MAX_CHARS = 10
    chat = await connect()
    await greet(chat)

    await chat.send_json_to({"type": "message", "text": "x" * 11})

    assert (await chat.receive_json_from())["code"] == "text_too_long"


@pytest.mark.parametrize("escaped", ["\\u0000", "\\ud800"], ids=["NUL", "lone surrogate"])
async def test_text_no_database_can_store_gets_an_error_and_nothing_is_stored(demo, escaped):
    chat = await connect()
    await greet(chat)

    await chat.send_to(text_data=f'{{"type": "message", "text": "hi {escaped} there"}}')

    error = await chat.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "invalid_text")
    assert "U+" in error["detail"]
    await chat.send_json_to({"type": "message", "text": "!ping"})
    assert (await chat.receive_json_from())["text"] == "!ping"
    await chat.disconnect()
    assert await database_sync_to_async(Message.objects.filter(text__contains="there").count)() == 0


async def test_a_hello_with_a_lone_surrogate_in_its_token_makes_a_new_visitor(demo):
    chat = await connect()

    await chat.send_to(text_data='{"type": "hello", "visitor": "a:b\\ud800"}')

    assert (await chat.receive_json_from())["type"] == "welcome"
    await chat.disconnect()


async def test_json_nested_past_the_limit_gets_an_error_naming_it_and_the_socket_stays_open(
    demo, settings
):
    chat = await connect()
    await greet(chat)

    await chat.send_to(text_data="[" * 10_000 + "]" * 10_000)

    error = await chat.receive_json_from()
    assert (error["code"], error["detail"]) == (
        "invalid_json",
        f"JSON nested deeper than {settings.JSON_MAX_DEPTH} levels (JSON_MAX_DEPTH).",
    )
    nested = {"type": "message", "text": "!ping", "extra": [[[]]]}
    await chat.send_json_to(nested)
    assert (await chat.receive_json_from())["text"] == "!ping"
    await chat.disconnect()


async def test_a_frame_over_the_size_limit_closes_with_4009(demo, settings):
    settings.CHAT_FRAME_MAX_BYTES = 100
    chat = await connect()

    await chat.send_to(text_data="x" * 101)

    assert await chat.receive_output() == {"type": "websocket.close", "code": 4009}


async def test_binary_frames_close_the_socket_with_4003(demo):
    chat = await connect()

    await chat.send_to(bytes_data=b"\x00\x01")

    assert await chat.receive_output() == {"type": "websocket.close", "code": 4003}


async def test_a_flood_is_refused_with_an_error_then_closed(demo, settings):
    settings.CHAT_FLOOD_BURST = 3
    settings.CHAT_FLOOD_PER_SECOND = 0.001
    chat = await connect()
    await greet(chat)  # the hello takes one token

    for _ in range(2):
        await chat.send_json_to({"type": "message", "text": "!ping"})
    await frames_until_quiet(chat)
    await chat.send_json_to({"type": "message", "text": "!ping"})
    assert (await chat.receive_json_from())["code"] == "rate_limited"
    for _ in range(25):
        await chat.send_json_to({"type": "message", "text": "!ping"})

    outputs = []
    while (output := await chat.receive_output())["type"] != "websocket.close":
        outputs.append(output)
    assert output["code"] == 4429
    stored = await database_sync_to_async(ActionRun.objects.count)()
    assert stored == 0


async def test_an_unknown_bot_gets_an_error_and_close_code_4404(db):
    chat = await connect("/ws/chat/nobody/")

    await chat.send_json_to({"type": "hello"})

    assert (await chat.receive_json_from())["code"] == "bot_not_found"
    assert await chat.receive_output() == {"type": "websocket.close", "code": 4404}


@pytest.mark.parametrize(
    "headers",
    [
        (),
        ((b"origin", b"https://evil.example"),),
        ((b"origin", b"null"),),
        ((b"origin", b"http://127.0.0.1:1"),),
        ((b"origin", b"https://127.0.0.1:8000"),),
        ((b"origin", b"http://127.0.0.1"),),
        ((b"origin", b"http://localhost:8000"),),
        ((b"origin", b"http://127.0.0.1:8000/chat/"),),
        ((b"host", b"127.0.0.1:8123"), (b"origin", b"http://127.0.0.1:8124")),
        ((b"host", b"evil.example:8123"), (b"origin", b"http://evil.example:8123")),
    ],
    ids=[
        "no origin",
        "foreign",
        "null",
        "an allowed host on another port",
        "an allowed host with another scheme",
        "an allowed host on the default port",
        "an allowed host not the site's origin",
        "with a path",
        "another port than the host header's",
        "a host header not in ALLOWED_HOSTS",
    ],
)
async def test_sockets_from_foreign_or_missing_origins_are_refused(demo, headers):
    communicator = WebsocketCommunicator(application, "/ws/chat/demo/", headers=list(headers))

    connected, _ = await communicator.connect()

    assert not connected


async def test_a_site_staff_allow_may_open_the_bots_socket(demo):
    await database_sync_to_async(Bot.objects.filter(slug="demo").update)(
        allowed_origins=["https://shop.example.com"]
    )
    shop = (b"origin", b"https://shop.example.com")

    assert await connect(headers=(shop,))
    assert await connect(headers=((b"origin", b"https://Shop.example.com:443"),))
    for origin in [
        b"https://shop.example.org",
        b"https://shop.example.com:8443",
        b"http://shop.example.com",
    ]:
        elsewhere = WebsocketCommunicator(
            application, "/ws/chat/demo/", headers=[(b"origin", origin)]
        )
        assert not (await elsewhere.connect())[0], origin


@pytest.mark.parametrize(
    "headers",
    [
        ((b"host", b"127.0.0.1:8123"), (b"origin", b"http://127.0.0.1:8123")),
        ((b"host", b"localhost"), (b"origin", b"http://localhost:80")),
        ((b"origin", b"HTTP://127.0.0.1:8000/"),),
    ],
    ids=["the socket's own host and port", "the default port spelled out", "SITE_URL's"],
)
async def test_the_sites_own_origins_may_open_the_socket(demo, headers):
    assert await connect(headers=headers)


async def test_a_trusted_origin_may_open_the_socket_on_its_port_only(demo, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://bots.example.com", "https://*.example.org:8443"]

    for origin, is_allowed in [
        (b"https://bots.example.com", True),
        (b"https://bots.example.com:443", True),
        (b"https://bots.example.com:8443", False),
        (b"http://bots.example.com", False),
        (b"https://chat.example.org:8443", True),
        (b"https://chat.example.org", False),
    ]:
        communicator = WebsocketCommunicator(
            application, "/ws/chat/demo/", headers=[(b"origin", origin)]
        )
        assert (await communicator.connect())[0] is is_allowed, origin
        await communicator.disconnect()


async def test_a_page_on_another_port_cannot_use_a_staff_session(demo, django_user_model):
    staff = await database_sync_to_async(django_user_model.objects.create_superuser)(
        "boss", password="x"
    )
    cookie = await session_cookie_for(staff)
    site = (b"host", b"127.0.0.1:8000")
    hijack = WebsocketCommunicator(
        application, "/ws/chat/demo/", headers=[site, (b"origin", b"http://127.0.0.1:1"), cookie]
    )

    assert not (await hijack.connect())[0]
    own = await connect(headers=(site, ORIGIN, cookie))
    assert (await greet(own))["participant"] == {"name": "boss"}
    await own.disconnect()


async def session_cookie_for(user) -> tuple[bytes, bytes]:
    """Log the user in as a browser would and return its session cookie header."""
    client = Client()
    await database_sync_to_async(client.force_login)(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def test_replies_reach_every_socket_of_the_room_and_only_that_room(demo, django_user_model):
    user = await database_sync_to_async(django_user_model.objects.create_user)("ada", password="x")
    cookie = await session_cookie_for(user)
    other = await connect()  # an anonymous visitor: a room of their own
    await greet(other)
    sockets = [await connect(headers=(ORIGIN, cookie)) for _ in range(2)]
    for socket in sockets:
        assert (await greet(socket))["visitor"] is None, "users need no visitor token"

    await sockets[0].send_json_to({"type": "message", "text": "!latest-post"})
    for communicator in sockets:
        assert (await communicator.receive_json_from())["text"] == "!latest-post"
        assert (await communicator.receive_json_from())["type"] == "typing"
    await run_pending_actions()
    for communicator in sockets:
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["text"] == "• Schedules that survive restarts"
    assert await frames_until_quiet(other) == []

    late = await connect(headers=(ORIGIN, cookie))
    await greet(late)
    history = [frame for frame in await frames_until_quiet(late) if frame["type"] == "message"]
    assert [frame["text"] for frame in history] == [
        "!latest-post",
        "• Schedules that survive restarts",
    ]
    assert history[0]["sender"] == {"kind": "participant", "name": "ada"}


async def test_frames_are_handled_while_the_database_thread_is_busy(demo):
    chat = await connect()
    await greet(chat)
    started, release = threading.Event(), threading.Event()

    def occupy_database_thread() -> None:
        started.set()
        release.wait(timeout=10)

    # Channels runs every database call of the process on one thread: hold it, as a batch
    # being stored does, and see that a frame needing no database is still answered.
    blocker = asyncio.ensure_future(database_sync_to_async(occupy_database_thread)())
    try:
        while not started.is_set():
            await asyncio.sleep(0.01)
        await chat.send_to(text_data="{not json")
        error = await chat.receive_json_from(timeout=3)
    finally:
        release.set()
        await blocker
    assert error["code"] == "invalid_json"
    await chat.disconnect()


async def test_a_reply_committed_after_a_later_message_still_reaches_a_reconnecting_client(demo):
    chat = await connect()
    token = (await greet(chat))["visitor"]
    await chat.send_json_to({"type": "message", "text": "!ping"})
    before_reply = await frames_until_quiet(chat)
    await chat.disconnect()
    # A worker's reply took its id before the client's next message and committed after
    # the client had seen that message: the client's last id is past the reply's.
    late_reply, seen_last = await database_sync_to_async(_late_reply_then_message)(
        before_reply[0]["id"]
    )

    again = await connect()
    await greet(again, visitor=token, last_id=seen_last)
    missed = await frames_until_quiet(again)

    assert late_reply in [frame["id"] for frame in missed]
    assert seen_last not in [frame["id"] for frame in missed]


def _late_reply_then_message(room_message_id: int) -> tuple[int, int]:
    first = Message.objects.get(pk=room_message_id)
    reply = Message.objects.create(room=first.room, sender_kind="bot", text="late answer")
    later = Message.objects.create(
        room=first.room, participant=first.participant, sender_kind="participant", text="next"
    )
    return reply.pk, later.pk


async def test_the_sender_is_answered_directly_once_and_its_other_tab_through_the_room(demo):
    sender = await connect()
    token = (await greet(sender))["visitor"]
    other_tab = await connect()
    await greet(other_tab, visitor=token)
    client_id = str(uuid.uuid4())

    await sender.send_json_to({"type": "message", "text": "!ping", "client_id": client_id})
    sent = await frames_until_quiet(sender)
    shown = await frames_until_quiet(other_tab)

    assert [frame["type"] for frame in sent] == ["ack", "message", "message"]
    assert [frame["text"] for frame in sent[1:]] == ["!ping", "pong"]
    assert [frame["text"] for frame in shown] == ["!ping", "pong"]
    assert [frame["id"] for frame in shown] == [frame["id"] for frame in sent[1:]]


async def test_the_sender_gets_its_answer_even_when_the_room_broadcast_fails(demo, monkeypatch):
    chat = await connect()
    await greet(chat)

    async def layer_down(*args, **kwargs):
        raise ConnectionError("the channel layer's Redis is unreachable")

    monkeypatch.setattr(get_channel_layer(), "group_send", layer_down)
    await chat.send_json_to({"type": "message", "text": "!ping"})

    assert [frame["text"] for frame in await frames_until_quiet(chat)] == ["!ping", "pong"]
