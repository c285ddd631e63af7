"""The bridge's own bookkeeping, without a network: what Botsite says twice goes out once."""

from bridge.app import Bridge
from bridge.irc import IrcConnection

CONFIG = {"host": "127.0.0.1", "port": 6667, "nick": "botsite", "channels": ["#a"]}


async def nothing(*args: object) -> None:
    return None


def connection() -> IrcConnection:
    return IrcConnection(1, CONFIG, "", deliver=nothing, sent=nothing, local_answer=lambda t: None)


def say(message_id: int) -> dict:
    return {"type": "say", "id": message_id, "connector": 1, "room": "#a", "lines": ["hi"]}


async def test_a_message_said_again_after_a_reconnect_is_queued_once():
    bridge = Bridge(url="ws://127.0.0.1:1", token="t")
    bridge.connections[1] = held = connection()
    bridge.specs[1] = {"id": 1, "kind": "irc", "config": CONFIG}

    await bridge._frame(say(7))
    await bridge._frame(say(7))
    await bridge._frame(say(8))

    assert held.queue.qsize() == 2
    assert held.unsent == {7, 8}


async def test_what_a_stopped_connection_had_not_sent_is_taken_when_said_again():
    bridge = Bridge(url="ws://127.0.0.1:1", token="t")
    bridge.connections[1] = connection()
    bridge.specs[1] = {"id": 1, "kind": "irc", "config": CONFIG}
    await bridge._frame(say(7))

    await bridge._connectors_hold([])  # let go (switched off, or another bridge holds it)
    assert 7 not in bridge.recent_says


async def test_the_status_command_is_answered_only_while_botsite_is_away():
    bridge = Bridge(url="ws://127.0.0.1:1", token="t")
    assert "unreachable" in (bridge._local_answer("!", " !STATUS ") or "")
    bridge.offline_since = None
    assert bridge._local_answer("!", "!status") is None
    assert Bridge(url="ws://127.0.0.1:1", token="t")._local_answer("!", "!help") is None
