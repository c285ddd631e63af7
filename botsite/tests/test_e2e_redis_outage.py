"""Redis killed and started again under the production topology: the broker, the channel
layer and the cache all go at once, and come back empty. Each test has a Redis of its own."""

import json
from contextlib import ExitStack

import pytest

from actions.models import ActionRun
from botsite.tests.processes import bot_says, chat_socket, receive_until, wait_until
from botsite.tests.test_e2e_engine import CITIES, runs_claimed_by_hanging_tasks, weather_command
from botsite.tests.weather_api import HeldApi, SlowOnceApi, api_serve
from conversations.models import Message

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.fixture
def held_weather_api(weather_port):
    yield from api_serve(HeldApi, weather_port)


def test_a_worker_holding_unacknowledged_tasks_rides_out_a_redis_restart(
    topology_own_redis, own_redis, held_weather_api
):
    """A task held in the weather API (unacknowledged) while the worker's other process
    waits for work: kombu restored the task through the connection it had just closed
    (`AttributeError: 'NoneType' ... 'hostname'`) and the worker exited for good."""
    topology = topology_own_redis
    worker = topology.worker_start()
    weather_command(held_weather_api)
    with ExitStack() as stack:
        asking, *pinging = [stack.enter_context(chat_socket(topology.port)) for _ in range(4)]
        asking.send(json.dumps({"type": "message", "text": "!weather Oslo"}))
        wait_until(lambda: SlowOnceApi.hits, timeout=30, what="the action to call the API")
        pings_answered(pinging)  # the worker's other process takes tasks meanwhile
        own_redis.kill()
        wait_until(
            lambda: "Connection to broker lost" in worker.log(),
            timeout=30,
            what="the worker to notice Redis is gone",
            watch=[worker],
        )
        for n, chat in enumerate(pinging):  # stored now, handed to the worker later
            client_id = f"00000000-0000-4000-8000-{n:012d}"
            chat.send(json.dumps({"type": "message", "text": "!ping", "client_id": client_id}))
            receive_until(chat, lambda frame: frame["type"] == "ack", timeout=30)
        own_redis.start()
        HeldApi.released.set()

        receive_until(asking, bot_says("It is 21° in Oslo."), timeout=60)
        for chat in pinging:
            receive_until(chat, bot_says("pong"), timeout=60)
        pings_answered([asking, *pinging])  # from the Redis that came back
        for chat in [asking, *pinging]:
            with pytest.raises(AssertionError, match="no matching frame"):
                receive_until(chat, lambda frame: frame["type"] == "message", timeout=1)

    assert worker.popen.poll() is None, f"the worker exited:\n{worker.tail()}"
    assert "Unrecoverable error" not in worker.log()
    run = ActionRun.objects.get(action_name="weather")
    assert run.status == ActionRun.Status.SUCCEEDED
    for message in Message.objects.filter(sender_kind="participant"):
        assert Message.objects.filter(reply_to=message, sender_kind="bot").count() == 1


def pings_answered(chats) -> None:
    for chat in chats:
        chat.send(json.dumps({"type": "message", "text": "!ping"}))
    for chat in chats:
        receive_until(chat, bot_says("pong"), timeout=60)


def frames_until(chat, predicate, *, timeout: float) -> list[dict]:
    """Every frame up to and including the first that matches."""
    frames: list[dict] = []

    def record(frame: dict) -> bool:
        frames.append(frame)
        return predicate(frame)

    receive_until(chat, record, timeout=timeout)
    return frames


def is_status(live: bool):
    return lambda frame: frame == {"type": "status", "live": live}


def test_open_sockets_catch_up_on_replies_stored_while_redis_was_down(
    topology_own_redis, own_redis, held_weather_api
):
    """The pub/sub layer drops what is published while Redis is down: the replies were
    stored, but sockets that stayed open never saw them and were given no sign."""
    topology = topology_own_redis
    weather_command(held_weather_api)
    with ExitStack() as stack:
        chats, runs = runs_claimed_by_hanging_tasks(topology, stack, heartbeat_seconds=1)
        welcome = receive_until(chats[0], lambda frame: frame["type"] == "welcome", timeout=5)
        same_room = stack.enter_context(chat_socket(topology.port))  # a second tab
        same_room.send(json.dumps({"type": "hello", "visitor": welcome["visitor"]}))
        receive_until(same_room, lambda frame: frame.get("text") == "!weather Oslo", timeout=10)

        own_redis.kill()
        for chat in [*chats, same_room]:
            receive_until(chat, is_status(live=False), timeout=30)
        opened_meanwhile = stack.enter_context(chat_socket(topology.port))
        opened_meanwhile.send('{"type": "hello"}')
        receive_until(opened_meanwhile, is_status(live=False), timeout=30)
        HeldApi.released.set()
        wait_until(
            lambda: runs.filter(status=ActionRun.Status.SUCCEEDED).count() == len(CITIES),
            timeout=30,
            what="every reply to be stored while Redis is down",
        )
        own_redis.start()

        for chat, city in [*zip(chats, CITIES, strict=True), (same_room, CITIES[0])]:
            frames = frames_until(chat, is_status(live=True), timeout=30)
            replies = [frame for frame in frames if bot_says(f"It is 21° in {city}.")(frame)]
            assert len(replies) == 1, frames
        receive_until(opened_meanwhile, is_status(live=True), timeout=30)
        # Live again: a new question's reply comes over the layer, and nothing twice.
        chats[1].send(json.dumps({"type": "message", "text": "!ping"}))
        receive_until(chats[1], bot_says("pong"), timeout=30)
        for chat in [*chats, same_room]:
            with pytest.raises(AssertionError, match="no matching frame"):
                receive_until(chat, bot_says("It is"), timeout=1)

    daphne = next(p for p in topology.processes if p.name == "daphne")
    assert "Traceback" not in daphne.log(), daphne.tail(80)
    assert daphne.log().count("channel layer lost Redis") == 1
