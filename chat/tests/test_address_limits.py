import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from botsite.asgi import application
from chat import address_limits
from chat.address_limits import AddressAllowance
from chat.demo import demo_install

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


async def connect(client: str, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws/chat/demo/", headers=[ORIGIN, *headers])
    communicator.scope["client"] = (client, 50000)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def is_refused_for_sockets(chat: WebsocketCommunicator) -> bool:
    """True when the server said "too many sockets" and closed with 4430."""
    frame = await chat.receive_output(timeout=2)
    if frame["type"] != "websocket.send":
        return False
    assert '"too_many_sockets"' in frame["text"]
    closed = await chat.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": 4430}
    return True


@pytest.fixture
async def demo():
    await database_sync_to_async(demo_install)()


async def test_an_address_past_its_sockets_is_refused_and_a_closed_one_frees_a_place(
    demo, settings
):
    settings.CHAT_ADDRESS_MAX_SOCKETS = 3
    held = [await connect("10.0.0.1") for _ in range(3)]
    for chat in held:
        assert await chat.receive_nothing(timeout=0.1)

    fourth = await connect("10.0.0.1")
    assert await is_refused_for_sockets(fourth)
    other = await connect("10.0.0.2")
    assert await other.receive_nothing(timeout=0.1), "another address has places of its own"

    await held[0].disconnect()
    again = await connect("10.0.0.1")
    assert await again.receive_nothing(timeout=0.1)
    for chat in [*held[1:], other, again]:
        await chat.disconnect()


async def test_the_sockets_of_one_address_share_one_frame_allowance(demo, settings):
    settings.CHAT_ADDRESS_FLOOD_BURST = 4
    settings.CHAT_ADDRESS_FLOOD_PER_SECOND = 0.001
    first, second = await connect("10.0.0.3"), await connect("10.0.0.3")
    bystander = await connect("10.0.0.4")

    for chat in (first, second):
        await chat.send_json_to({"type": "hello"})
        assert (await chat.receive_json_from())["type"] == "welcome"
    await first.send_json_to({"type": "message", "text": "!ping"})
    await second.send_json_to({"type": "message", "text": "!ping"})
    assert (await first.receive_json_from())["type"] == "message"
    assert (await second.receive_json_from())["type"] == "message"
    await first.receive_json_from(), await second.receive_json_from()  # the pongs

    await second.send_json_to({"type": "message", "text": "!ping"})
    refused = await second.receive_json_from()
    assert refused["type"] == "error"
    assert refused["code"] == "rate_limited"
    await bystander.send_json_to({"type": "hello"})
    assert (await bystander.receive_json_from())["type"] == "welcome"
    for chat in (first, second, bystander):
        await chat.disconnect()


async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(demo, settings):
    settings.CHAT_ADDRESS_MAX_SOCKETS = 1
    forwarded = (b"x-forwarded-for", b"203.0.113.9, 198.51.100.1")
    settings.TRUSTED_PROXIES = []
    held = await connect("10.0.0.5", forwarded)
    assert await is_refused_for_sockets(await connect("10.0.0.5", forwarded)), (
        "without trusted proxies the header is the client's own words"
    )
    await held.disconnect()

    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    through_proxy = [
        await connect("10.0.0.5", (b"x-forwarded-for", f"203.0.113.9, 198.51.100.{n}".encode()))
        for n in (1, 2)
    ]
    for chat in through_proxy:
        assert await chat.receive_nothing(timeout=0.1), "two clients behind one proxy"
    # The client-written part (left of the proxy's entry) changes nothing.
    spoofed = await connect("10.0.0.5", (b"x-forwarded-for", b"1.2.3.4, 198.51.100.1"))
    assert await is_refused_for_sockets(spoofed)
    for chat in through_proxy:
        await chat.disconnect()


@pytest.mark.skipif(address_limits._redis_url() is None, reason="counts in Redis: needs REDIS_URL")
async def test_a_socket_stops_counting_once_its_server_stops_renewing_it(settings):
    settings.CHAT_ADDRESS_MAX_SOCKETS = 1
    settings.CHAT_ADDRESS_SOCKET_TTL_SECONDS = 0.6
    held = AddressAllowance({"client": ("10.0.0.6", 1)})
    assert await held.socket_open()
    ledger = address_limits._ledger(address_limits._redis_url() or "")
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # renewed: still counted past its first period
        assert not await AddressAllowance({"client": ("10.0.0.6", 2)}).socket_open()
        await asyncio.sleep(0.1)

    # A server that died renews nothing: here, its renewer stops.
    assert ledger.renewer is not None
    ledger.renewer.cancel()
    ledger.held.clear()
    deadline = time.monotonic() + 5
    while not await AddressAllowance({"client": ("10.0.0.6", 3)}).socket_open():
        assert time.monotonic() < deadline, "the dead server's socket still counts"
        await asyncio.sleep(0.1)


async def test_a_socket_whose_consumer_failed_gives_its_place_back(demo, settings):
    settings.CHAT_ADDRESS_MAX_SOCKETS = 1
    chat = await connect("10.0.0.3")
    assert await chat.receive_nothing(timeout=0.1)

    # An event no handler takes makes the consumer raise: no `disconnect` call follows.
    await chat.send_input({"type": "no.such.event"})
    with pytest.raises(ValueError, match="No handler"):
        await chat.wait(timeout=2)

    again = await connect("10.0.0.3")
    assert await again.receive_nothing(timeout=0.1), "the failed socket still held the place"
    await again.disconnect()
