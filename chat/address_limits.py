"""Limits per client address on the web chat: open sockets, and frames per second across
all of that address's sockets, shared by every server process.

With Redis (the cache's server) the counts live there: each open socket is an entry of its
address's sorted set that expires `CHAT_ADDRESS_SOCKET_TTL_SECONDS` after its last renewal,
and each server process renews its own sockets' entries three times per period. A server
that dies stops renewing, so its sockets stop counting within one period. Frames take from
the address's token bucket (the script the other buckets use). In the embedded run, one
process, the counts live in that process.

When Redis cannot be reached the limits let everything through for a few seconds at a
time: an outage of the limiter must not cost anyone their chat.
"""

import asyncio
import logging
import time
import uuid
import weakref
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from conversations.ports import TAKE_FROM_BUCKET_LUA, TokenBucketsInCache

logger = logging.getLogger(__name__)

# Drop the expired entries, refuse when the address holds its most, else add this socket;
# one step inside Redis, on Redis's clock, so every process sees the same count.
SOCKET_OPEN_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000))
return 1
"""

SOCKETS_RENEW_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000))
return 1
"""

#: After Redis failed, how long the limits let everything through before trying it again.
OUTAGE_PASS_SECONDS = 5.0


def _sockets_key(address: str) -> str:
    return cache.make_key(f"chat-address-sockets:{address}")


def _bucket_key(address: str) -> str:
    return f"chat-address:{address}"


class _RedisLedger:
    """One event loop's Redis connection and the sockets its process holds, per address."""

    def __init__(self, url: str) -> None:
        # A burst of handshakes waits for a connection rather than failing (redis-py's own
        # pool refuses past its size, which here would let everything through).
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=50, timeout=2, socket_timeout=2, socket_connect_timeout=2
        )
        self.client = aioredis.Redis(connection_pool=pool)
        self.socket_open = self.client.register_script(SOCKET_OPEN_LUA)
        self.frame_take = self.client.register_script(TAKE_FROM_BUCKET_LUA)
        self.held: dict[str, set[str]] = {}
        self.renewer: asyncio.Task[None] | None = None
        self.failed_at: float | None = None

    def is_passing(self) -> bool:
        return (
            self.failed_at is not None and time.monotonic() - self.failed_at < OUTAGE_PASS_SECONDS
        )

    def failed(self, error: Exception) -> None:
        if self.failed_at is None:
            logger.warning("chat address limits: Redis unreachable, not limiting (%s)", error)
        self.failed_at = time.monotonic()

    def recovered(self) -> None:
        if self.failed_at is not None:
            logger.warning("chat address limits: Redis reachable again")
        self.failed_at = None

    async def renew_forever(self) -> None:
        while self.held:
            ttl = settings.CHAT_ADDRESS_SOCKET_TTL_SECONDS
            await asyncio.sleep(ttl / 3)
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for address, sockets in list(self.held.items()):
                        if sockets:
                            pipe.eval(SOCKETS_RENEW_LUA, 1, _sockets_key(address), ttl, *sockets)
                    await pipe.execute()
                self.recovered()
            except aioredis.RedisError as error:
                self.failed(error)
        self.renewer = None


_ledgers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _RedisLedger]" = (
    weakref.WeakKeyDictionary()
)
_local_sockets: dict[str, set[str]] = {}


def _redis_url() -> str | None:
    if isinstance(caches["default"], RedisCache):  # `cache` is a proxy: not an instance
        location = settings.CACHES["default"]["LOCATION"]
        return location if isinstance(location, str) else location[0]
    return None


def _ledger(url: str) -> _RedisLedger:
    loop = asyncio.get_running_loop()
    ledger = _ledgers.get(loop)
    if ledger is None:
        ledger = _ledgers[loop] = _RedisLedger(url)
    return ledger


class AddressAllowance:
    """One chat socket's share of its address's limits. A socket whose address is unknown
    (a server on a Unix socket with no trusted proxy) is not limited by address."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.address: str | None = (scope.get("client") or (None,))[0]
        self.socket_id = uuid.uuid4().hex
        self.is_held = False

    async def socket_open(self) -> bool:
        """Count this socket against its address; False when the address holds its most."""
        most = settings.CHAT_ADDRESS_MAX_SOCKETS
        if self.address is None or most <= 0:
            return True
        url = _redis_url()
        if url is None:
            sockets = _local_sockets.setdefault(self.address, set())
            if len(sockets) >= most:
                return False
            sockets.add(self.socket_id)
            self.is_held = True
            return True
        ledger = _ledger(url)
        if not ledger.is_passing():
            ttl = settings.CHAT_ADDRESS_SOCKET_TTL_SECONDS
            key = _sockets_key(self.address)
            try:
                is_open = await ledger.socket_open(keys=[key], args=[self.socket_id, most, ttl])
            except aioredis.RedisError as error:
                ledger.failed(error)
            else:
                ledger.recovered()
                if not is_open:
                    return False
        # Also held when Redis is away, so the next renewal counts it once Redis is back.
        ledger.held.setdefault(self.address, set()).add(self.socket_id)
        self.is_held = True
        if ledger.renewer is None:
            ledger.renewer = asyncio.create_task(ledger.renew_forever())
        return True

    async def socket_close(self) -> None:
        if not self.is_held or self.address is None:
            return
        self.is_held = False
        url = _redis_url()
        if url is None:
            _local_sockets.get(self.address, set()).discard(self.socket_id)
            if not _local_sockets.get(self.address):
                _local_sockets.pop(self.address, None)
            return
        ledger = _ledger(url)
        sockets = ledger.held.get(self.address, set())
        sockets.discard(self.socket_id)
        if not sockets:
            ledger.held.pop(self.address, None)
        try:
            await ledger.client.zrem(_sockets_key(self.address), self.socket_id)
        except aioredis.RedisError as error:
            ledger.failed(error)  # the entry expires by itself

    async def frame_allow(self) -> bool:
        """Take one frame from the address's allowance; False when it is spent."""
        burst, per_second = (
            settings.CHAT_ADDRESS_FLOOD_BURST,
            settings.CHAT_ADDRESS_FLOOD_PER_SECOND,
        )
        if self.address is None or burst <= 0 or per_second <= 0:
            return True
        url = _redis_url()
        if url is None:
            return TokenBucketsInCache().take(
                _bucket_key(self.address), capacity=burst, per_second=per_second
            )
        ledger = _ledger(url)
        if ledger.is_passing():
            return True
        key = cache.make_key(f"bucket:{_bucket_key(self.address)}")
        try:
            allowed = await ledger.frame_take(keys=[key], args=[burst, per_second])
        except aioredis.RedisError as error:
            ledger.failed(error)
            return True
        ledger.recovered()
        return bool(allowed)
