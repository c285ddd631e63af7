import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from botsite import settings as settings_module
from botsite.channel_layers import (
    LAYER_LOST,
    LAYER_RESTORED,
    LoopBoundInMemoryChannelLayer,
    OutageAwarePubSubChannelLayer,
)
from botsite.tests.processes import RedisServer


def test_a_group_send_from_a_worker_thread_wakes_the_receivers_loop():
    """What the embedded worker does: `async_to_sync(group_send)` from another thread."""
    layer = LoopBoundInMemoryChannelLayer()
    loop_errors: list[dict] = []

    async def consumer() -> dict:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: loop_errors.append(context))
        channel = await layer.new_channel()
        await layer.group_add("room.1", channel)
        worker = threading.Thread(
            target=async_to_sync(layer.group_send), args=("room.1", {"type": "hello"})
        )
        worker.start()
        # Nothing else runs on this loop: the message must arrive by waking it up.
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        # Joined off the loop: the sender's cross-loop call finishes on this loop.
        await asyncio.to_thread(worker.join)
        return message

    loop = asyncio.new_event_loop()
    loop.set_debug(True)  # debug mode raises on non-thread-safe calls into the loop
    try:
        assert loop.run_until_complete(consumer()) == {"type": "hello"}
    finally:
        loop.close()
    assert loop_errors == []


def test_without_a_receiving_loop_operations_run_where_they_are_called():
    layer = LoopBoundInMemoryChannelLayer()

    async def round_trip() -> dict:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "ping"})
        return await layer.receive(channel)

    assert asyncio.run(round_trip()) == {"type": "ping"}


def test_the_default_prefix_of_the_redis_layer_names_the_database():
    assert settings_module.redis_database("redis://127.0.0.1:6379/13") == 13
    assert settings_module.redis_database("redis://127.0.0.1:6379") == 0
    assert settings_module.redis_database("rediss://user:pw@cache.example:6380/2?x=1") == 2


def test_sites_on_one_redis_server_do_not_hear_each_others_rooms(services_env):
    """Pub/sub channels are server-wide; each Redis database gets its own layer prefix."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    redis_url = services_env["REDIS_URL"]

    def layer(database: int) -> RedisPubSubChannelLayer:
        url = redis_url.rsplit("/", 1)[0] + f"/{database}"
        return RedisPubSubChannelLayer(
            hosts=[url], prefix=f"botsite.{settings_module.redis_database(url)}"
        )

    async def heard(listener: RedisPubSubChannelLayer, sender: RedisPubSubChannelLayer) -> bool:
        channel = await listener.new_channel()
        await listener.group_add("room.1", channel)
        await sender.group_send("room.1", {"type": "messages.created", "messages": []})
        try:
            await asyncio.wait_for(listener.receive(channel), timeout=1)
            return True
        except TimeoutError:
            return False
        finally:
            await listener.flush()
            await sender.flush()

    async def both() -> tuple[bool, bool]:
        return await heard(layer(3), layer(3)), await heard(layer(3), layer(4))

    same_database, other_database = asyncio.run(both())
    assert same_database is True
    assert other_database is False


def _redis_layers(services_env):
    """The layer as settings configure it, and the stock default layer, on the test's
    Redis database."""
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    [host] = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    configured = RedisPubSubChannelLayer(
        hosts=[{**host, "address": services_env["REDIS_URL"]}], prefix="test-configured"
    )
    stock = RedisChannelLayer(hosts=[services_env["REDIS_URL"]], prefix="test-stock")
    return configured, stock


async def _burst(layer, sends: int, *, at_once: bool) -> int:
    """Group-send a burst to a subscriber that reads only afterwards; count what arrives."""
    channel = await layer.new_channel()
    await layer.group_add("room.burst", channel)
    try:
        messages = [layer.group_send("room.burst", {"type": "t", "n": n}) for n in range(sends)]
        if at_once:
            await asyncio.gather(*messages)
        else:
            for message in messages:
                await message
        received = 0
        while True:
            try:
                await asyncio.wait_for(layer.receive(channel), timeout=2)
            except TimeoutError:
                return received
            received += 1
    finally:
        await layer.flush()


def test_a_burst_of_sends_cannot_exhaust_the_redis_connection_pool(services_env):
    """redis-py caps a pool at 100 connections, and the stock layer holds one per send in
    flight; ours publishes over one connection per shard."""
    from redis.exceptions import MaxConnectionsError

    configured, stock = _redis_layers(services_env)

    assert asyncio.run(_burst(configured, 300, at_once=True)) == 300
    with pytest.raises(MaxConnectionsError):
        asyncio.run(_burst(stock, 300, at_once=True))  # the failure we configured away


def test_replies_for_a_busy_socket_are_not_dropped_at_a_capacity(services_env):
    """The stock layer drops group messages past `capacity` (100) per channel, silently."""
    configured, stock = _redis_layers(services_env)

    assert asyncio.run(_burst(configured, 250, at_once=False)) == 250
    assert asyncio.run(_burst(stock, 250, at_once=False)) == 100  # the failure avoided


def test_an_idle_subscriber_outlives_redis_pys_default_read_timeout(services_env):
    """Idle longer than redis-py's 5 s default socket timeout, then still hears its room."""
    configured, _ = _redis_layers(services_env)

    async def idle_then_hear() -> dict:
        channel = await configured.new_channel()
        await configured.group_add("room.idle", channel)
        try:
            await asyncio.sleep(6)
            await configured.group_send("room.idle", {"type": "t", "after": "idle"})
            return await asyncio.wait_for(configured.receive(channel), timeout=5)
        finally:
            await configured.flush()

    assert asyncio.run(idle_then_hear())["after"] == "idle"


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_the_pubsub_layer_tells_its_channels_of_an_outage_and_comes_back_subscribed(own_redis):
    """channels-redis's pub/sub layer drops what is published while Redis is down, says
    nothing to its channels, and fails a socket that opens or joins a group meanwhile."""
    layer = OutageAwarePubSubChannelLayer(hosts=[{"address": own_redis.url()}], prefix="test")

    async def receive(channel: str) -> dict:
        return await asyncio.wait_for(layer.receive(channel), timeout=20)

    async def outage() -> None:
        channel = await layer.new_channel()
        await layer.group_add("room.1", channel)
        await layer.group_send("room.1", {"type": "before"})
        assert await receive(channel) == {"type": "before"}

        await asyncio.to_thread(own_redis.kill)
        assert await receive(channel) == {"type": LAYER_LOST}
        opened_meanwhile = await layer.new_channel()
        await layer.group_add("room.2", opened_meanwhile)
        assert await receive(opened_meanwhile) == {"type": LAYER_LOST}
        await layer.group_discard("room.1", channel)  # a socket closed meanwhile
        await asyncio.to_thread(own_redis.start)

        assert await receive(channel) == {"type": LAYER_RESTORED}
        events = [await receive(opened_meanwhile) for _ in range(2)]
        assert events[-1] == {"type": LAYER_RESTORED}
        await layer.group_send("room.1", {"type": "nobody listens"})
        await layer.group_send("room.2", {"type": "after"})
        assert await receive(opened_meanwhile) == {"type": "after"}
        await layer.group_add("room.1", channel)
        await layer.group_send("room.1", {"type": "again"})
        assert await receive(channel) == {"type": "again"}
        await layer.flush()

    asyncio.run(outage())
