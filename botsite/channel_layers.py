"""The channel layers: the embedded run's, and production's on Redis (further down).

The embedded run's layer:

The stock `InMemoryChannelLayer` keeps asyncio queues that belong to the event loop the
consumers run on (daphne's). A Celery worker thread calling `group_send` through
`async_to_sync` runs on another loop: putting into those queues from there neither wakes
daphne's loop (replies wait for its next timer, about a second) nor is it thread-safe.
This subclass remembers the loop its receivers run on and hands every operation that
arrives from another loop over to it.
"""

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: Told by the layer itself to every channel of the process: Redis is lost, live pushes
#: pause.
LAYER_LOST = "layer.lost"
#: Told when Redis is back with every subscription in place: what was pushed meanwhile is
#: lost, so whoever listens catches up from its own records.
LAYER_RESTORED = "layer.restored"

# Bounded so a worker never hangs on a server loop that has stopped.
CROSS_LOOP_TIMEOUT_SECONDS = 10
#: How often a receive loop whose Redis is gone tries it again.
RECONNECT_SECONDS = 0.5


class LoopBoundInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, capacity: int = 1000, **kwargs: Any) -> None:
        super().__init__(capacity=capacity, **kwargs)
        self._home_loop: asyncio.AbstractEventLoop | None = None

    def _foreign_home_loop(self) -> asyncio.AbstractEventLoop | None:
        """The receivers' loop when the caller runs on another, live one; else None."""
        home = self._home_loop
        if home is None or home.is_closed() or not home.is_running():
            return None
        if home is asyncio.get_running_loop():
            return None
        return home

    async def _on_home_loop(self, operation: Any, *args: Any) -> Any:
        home = self._foreign_home_loop()
        if home is None:
            return await operation(*args)
        future = asyncio.run_coroutine_threadsafe(operation(*args), home)
        return await asyncio.wait_for(
            asyncio.wrap_future(future), timeout=CROSS_LOOP_TIMEOUT_SECONDS
        )

    async def receive(self, channel: str) -> dict:
        self._home_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict) -> None:
        await self._on_home_loop(super().send, channel, message)

    async def group_add(self, group: str, channel: str) -> None:
        await self._on_home_loop(super().group_add, group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self._on_home_loop(super().group_discard, group, channel)

    async def group_send(self, group: str, message: dict) -> None:
        await self._on_home_loop(super().group_send, group, message)


# --- Production: channels-redis's pub/sub layer, told when Redis goes and comes back -------


class _WatchedShard(RedisSingleShardConnection):
    """One Redis connection of the pub/sub layer that notices an outage and its end.

    redis-py reconnects the subscriber connection and subscribes again to what it had
    confirmed, but what was published meanwhile is gone, and a subscription asked for
    during the outage is not made at all. After a reconnect this connection first makes
    the subscriptions the process's channels and groups need, and once Redis has
    confirmed them tells every channel of the process (`LAYER_RESTORED`): from then on,
    whatever is published reaches them, and what was not is in the database.
    """

    def __init__(self, host: dict[str, Any], channel_layer: "_WatchedLoopLayer") -> None:
        super().__init__(host, channel_layer)
        self.loop_layer = channel_layer
        self.is_down = False
        self._watched: object | None = None  # the subscriber connection told of reconnects
        self._is_reconnected = False
        self._unconfirmed: set[str] = set()

    def lost(self, error: BaseException) -> None:
        """Redis could not be reached: said once per outage, and to every channel."""
        if self.is_down:
            return
        self.is_down = True
        logger.warning("channel layer lost Redis (%s); live pushes pause until it is back", error)
        self.loop_layer.channels_tell({"type": LAYER_LOST})

    async def _on_reconnect(self, connection: object) -> None:
        self._is_reconnected = True

    def _watch(self) -> None:
        connection = self._pubsub.connection if self._pubsub is not None else None
        if connection is not None and connection is not self._watched:
            # redis-py calls it on every connect and keeps it weakly: a method of this object.
            connection.register_connect_callback(self._on_reconnect)
            self._watched = connection

    async def subscribe(self, channel: str) -> None:
        await super().subscribe(channel)
        self._watch()

    async def publish(self, channel: str, message: bytes) -> None:
        try:
            await super().publish(channel, message)
        except RedisConnectionError:
            # A pooled connection opened before Redis restarted fails once, and is dropped;
            # the pool connects anew. (Consumers show each message id once.)
            await super().publish(channel, message)

    async def _subscriptions_reconcile(self) -> set[str]:
        """Subscribe to what the process's channels and groups need and is missing, drop
        what none needs any more; return the new subscriptions."""
        wanted = {
            name
            for name in (*self.loop_layer.channels, *self.loop_layer.groups)
            if self.loop_layer._get_shard(name) is self
        }
        async with self._lock:
            self._ensure_redis()
            missing, unused = wanted - self._subscribed_to, self._subscribed_to - wanted
            if missing:
                await self._pubsub.subscribe(*missing)
                self._subscribed_to |= missing
            if unused:
                await self._pubsub.unsubscribe(*unused)
                self._subscribed_to -= unused
        self._watch()
        return missing

    async def _subscriptions_confirmed(self) -> None:
        missing = await self._subscriptions_reconcile()
        if missing:
            self._unconfirmed = missing  # told when Redis has confirmed these too
            return
        self._is_reconnected = False
        if self.is_down:
            logger.warning("channel layer reached Redis again; sockets catch up")
        self.is_down = False
        self.loop_layer.channels_tell({"type": LAYER_RESTORED})

    async def _receive_once(self) -> None:
        if not (self._pubsub and self._pubsub.subscribed):
            if self.is_down:
                # Nothing confirmed to reconnect through: the subscriptions themselves try.
                self._unconfirmed = await self._subscriptions_reconcile()
                self._is_reconnected = True
                if not self._unconfirmed:
                    await self._subscriptions_confirmed()
            await asyncio.sleep(0.1)
            return
        message = await self._pubsub.get_message(timeout=0.1)
        if message is None:
            return
        if message["type"] in ("message", "pmessage"):
            self._receive_message(message)
        elif message["type"] == "subscribe" and self._is_reconnected:
            channel = message["channel"]
            self._unconfirmed.discard(channel.decode() if isinstance(channel, bytes) else channel)
            if not self._unconfirmed:
                await self._subscriptions_confirmed()

    async def _do_receiving(self) -> None:
        while True:
            try:
                await self._receive_once()
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except (RedisError, OSError) as error:
                self.lost(error)
                await asyncio.sleep(RECONNECT_SECONDS)
            except Exception:
                logger.exception("channel layer receive loop failed")
                await asyncio.sleep(RECONNECT_SECONDS)


class _WatchedLoopLayer(RedisPubSubLoopLayer):
    """channels-redis's per-loop pub/sub layer whose operations outlive a Redis outage:
    a channel or group membership asked for meanwhile is kept here and subscribed when
    Redis is back, and its channel is told that live pushes are paused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shards = [_WatchedShard(shard.host, self) for shard in self._shards]

    def _get_shard(self, channel_or_group_name: str) -> _WatchedShard:
        return super()._get_shard(channel_or_group_name)  # type: ignore[no-any-return]

    def channels_tell(self, event: dict[str, Any], channels: Iterable[str] | None = None) -> None:
        """Put an event straight into this process's channels (all of them by default)."""
        data = self.channel_layer.serialize(event)
        for name in list(self.channels if channels is None else channels):
            queue = self.channels.get(name)
            if queue is not None:
                queue.put_nowait(data)

    async def _despite_outage(self, name: str, operation: Any, *args: Any) -> bool:
        """Run a subscription change; while Redis is down it waits here (subscribed when
        Redis is back). Whether Redis is down."""
        shard = self._get_shard(name)
        try:
            await operation(*args)
        except (RedisError, OSError) as error:
            shard.lost(error)
        return shard.is_down

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = asyncio.Queue()
        if await self._despite_outage(channel, self._get_shard(channel).subscribe, channel):
            self.channels_tell({"type": LAYER_LOST}, [channel])

    async def group_add(self, group: str, channel: str) -> None:
        name = self._get_group_channel_name(group)
        if await self._despite_outage(name, super().group_add, group, channel):
            self.channels_tell({"type": LAYER_LOST}, [channel])

    async def group_discard(self, group: str, channel: str) -> None:
        name = self._get_group_channel_name(group)
        await self._despite_outage(name, super().group_discard, group, channel)


class OutageAwarePubSubChannelLayer(RedisPubSubChannelLayer):
    """channels-redis's pub/sub layer (see settings) that rides out a Redis outage.

    Every channel of the process gets `LAYER_LOST` when its Redis connection breaks and
    `LAYER_RESTORED` when it is back with every subscription in place; what was published
    in between is lost (the pub/sub layer queues nothing), so a consumer catches up from
    the database on `LAYER_RESTORED`. Sockets opened or closed during the outage are
    served too: their subscriptions wait here for Redis.
    """

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = _WatchedLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer
