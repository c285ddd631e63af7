"""A chat socket after a channel-layer outage: told it is offline, then sent what was
stored meanwhile, each message once (the layer's own events: botsite/channel_layers.py)."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from chat.demo import demo_install
from chat.tests.test_consumers import connect, frames_until_quiet, greet
from conversations import realtime
from conversations.models import Message, Room

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def demo():
    await database_sync_to_async(demo_install)()


def bot_message_store(room_id: int, text: str) -> int:
    room = Room.objects.select_related("bot").get(pk=room_id)
    return Message.objects.create(room=room, sender_kind=Message.SenderKind.BOT, text=text).pk


async def test_a_socket_is_sent_what_was_stored_while_the_layer_was_down_once(demo):
    chat = await connect()
    welcome = await greet(chat)
    await chat.send_json_to({"type": "message", "text": "hello there"})
    before = await frames_until_quiet(chat)
    group = realtime.room_group(welcome["room"])

    await get_channel_layer().group_send(group, {"type": realtime.LAYER_LOST})
    assert await frames_until_quiet(chat) == [{"type": "status", "live": False}]
    stored_id = await database_sync_to_async(bot_message_store)(welcome["room"], "meanwhile")
    await get_channel_layer().group_send(group, {"type": realtime.LAYER_RESTORED})
    after = await frames_until_quiet(chat)

    assert [frame["id"] for frame in after if frame["type"] == "message"] == [stored_id]
    assert after[-2:] == [{"type": "typing", "is_typing": False}, {"type": "status", "live": True}]
    # The catch-up reaches back 30 s before the last id sent, which the echo was.
    assert next(frame["text"] for frame in before if frame["type"] == "message") == "hello there"
    await get_channel_layer().group_send(group, {"type": realtime.LAYER_RESTORED})
    assert await frames_until_quiet(chat) == [{"type": "typing", "is_typing": False}]
    await chat.disconnect()
