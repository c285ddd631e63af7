"""The bridges' socket, driven as a bridge drives it (docs/bridge-protocol.md)."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from botsite.asgi import application
from chat.demo import demo_install
from conversations import realtime
from conversations.models import Connector, Message
from conversations.selectors import message_outbound
from conversations.services.connectors import connector_secret_set

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("network_servers")]

CONFIG = {
    "host": "127.0.0.1",
    "port": 6667,
    "tls": False,
    "nick": "botsite",
    "channels": ["#botsite"],
    "auth": "none",
    "op_trust": 50,
}


@database_sync_to_async
def connector_make() -> Connector:
    connector = Connector(bot=demo_install(), kind="irc", name="test", config=CONFIG)
    connector.full_clean()
    connector.save()
    connector_secret_set(connector=connector, secret="hunter2")
    return connector


async def bridge_connect(token: str | None = None, name: str = "bridge-1") -> WebsocketCommunicator:
    bridge = WebsocketCommunicator(application, "/ws/bridge/")
    connected, _ = await bridge.connect()
    assert connected
    await bridge.send_json_to(
        {"type": "hello", "token": token or settings.BRIDGE_TOKEN, "bridge": name}
    )
    return bridge


def inbound(connector: Connector, event_id: str, text: str, **extra) -> dict:
    return {
        "type": "inbound",
        "connector": connector.pk,
        "event_id": event_id,
        "room": "#botsite",
        "sender": {"id": "Alice", "name": "Alice"},
        "text": text,
        **extra,
    }


async def frames_until_quiet(bridge: WebsocketCommunicator) -> list[dict]:
    frames = []
    while not await bridge.receive_nothing(timeout=0.3):
        frames.append(await bridge.receive_json_from())
    return frames


async def test_a_wrong_token_or_no_hello_closes_the_socket():
    bridge = await bridge_connect(token="not-the-token")
    assert (await bridge.receive_output())["code"] == 4401
    other = WebsocketCommunicator(application, "/ws/bridge/")
    await other.connect()
    await other.send_json_to({"type": "inbound"})
    assert (await other.receive_output())["code"] == 4401


async def test_a_message_is_stored_once_acked_and_answered_and_a_resend_changes_nothing():
    connector = await connector_make()
    bridge = await bridge_connect()
    [held] = (await bridge.receive_json_from())["connectors"]
    assert (held["id"], held["secret"], held["config"]["nick"]) == (
        connector.pk,
        "hunter2",
        "botsite",
    )

    await bridge.send_json_to(inbound(connector, "e1", "!ping", roles=["op"]))
    frames = await frames_until_quiet(bridge)
    await bridge.send_json_to(inbound(connector, "e1", "!ping", roles=["op"]))
    again = await frames_until_quiet(bridge)

    [ack, say] = frames
    assert ack == {"type": "ack", "event_id": "e1"}
    assert (say["type"], say["lines"], say["room"]) == ("say", ["pong"], "#botsite")
    assert again == [{"type": "ack", "event_id": "e1"}], "a resend is acked, not answered twice"
    counts = await database_sync_to_async(
        lambda: (
            Message.objects.filter(room__via=connector, sender_kind="participant").count(),
            Message.objects.get(
                room__via=connector, sender_kind="participant"
            ).participant.trust_level,
        )
    )()
    assert counts == (1, 50)
    await bridge.disconnect()


async def test_what_is_not_relayed_yet_is_said_again_after_a_reconnect_and_sent_marks_it():
    connector = await connector_make()
    bridge = await bridge_connect()
    await bridge.receive_json_from()
    await bridge.send_json_to(inbound(connector, "e1", "!ping"))
    [_, say] = await frames_until_quiet(bridge)
    await bridge.disconnect()

    bridge = await bridge_connect(name="bridge-2")
    frames = await frames_until_quiet(bridge)
    assert [frame["type"] for frame in frames] == ["connectors", "say"]
    assert frames[1]["id"] == say["id"]
    await bridge.send_json_to({"type": "sent", "ids": [say["id"]]})
    await bridge.receive_nothing(timeout=0.3)
    await bridge.disconnect()

    bridge = await bridge_connect(name="bridge-3")
    assert [frame["type"] for frame in await frames_until_quiet(bridge)] == ["connectors"]
    await bridge.disconnect()


async def test_a_reply_stored_elsewhere_reaches_the_bridge_through_the_room_group():
    connector = await connector_make()
    bridge = await bridge_connect()
    await bridge.receive_json_from()

    @database_sync_to_async
    def reply_from_a_worker() -> Message:
        message = Message.objects.create(
            room=connector.rooms.get(), sender_kind="bot", text="line one\nline two"
        )
        return message_outbound(Message.objects.select_related("room__bot").get(pk=message.pk))

    outbound = await reply_from_a_worker()
    await realtime.messages_broadcast_async([outbound])
    [say] = await frames_until_quiet(bridge)
    assert (say["id"], say["lines"]) == (outbound.id, ["line one", "line two"])
    await bridge.disconnect()


async def test_another_bridge_holds_nothing_while_the_first_beats_and_bad_frames_are_refused():
    connector = await connector_make()
    first = await bridge_connect()
    await first.receive_json_from()
    second = await bridge_connect(name="bridge-2")
    assert await second.receive_nothing(timeout=0.3), "nothing to hold, so no frame"
    await second.send_json_to(inbound(connector, "e1", "!ping"))
    [refusal] = await frames_until_quiet(second)
    assert refusal["code"] == "not_held"
    for frame, code in [
        ({"type": "sent", "ids": "all"}, "invalid_frame"),
        ({"type": "nonsense"}, "unknown_type"),
        (inbound(connector, "e2", "\x00"), "invalid_text"),
        ({**inbound(connector, "e3", "hi"), "sender": "Alice"}, "invalid_frame"),
        # An XMPP JID may be far longer than a room's id can be: refused, not resent forever.
        (inbound(connector, "e4", "hi", room=f"{'x' * 300}@example.org"), "invalid_frame"),
        (inbound(connector, "e5", "hi", sender={"id": "a" * 300}), "invalid_frame"),
    ]:
        await first.send_json_to(frame)
        [error] = await frames_until_quiet(first)
        assert error["code"] == code, error
    await first.disconnect()
    await second.disconnect()
