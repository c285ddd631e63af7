"""The database-backed ports a worker hands to actions (tests hand in-memory ones)."""

import threading
import time
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import Q

from conversations.memory import MemoryScope, memory_forget, memory_recall, memory_remember
from conversations.models import Participant, Room
from conversations.selectors import participant_info
from engine.messages import ParticipantInfo


class MemoryFromDatabase:
    def __init__(self, *, bot_id: int, room_id: int, participant_id: int | None) -> None:
        self.bot_id, self.room_id, self.participant_id = bot_id, room_id, participant_id

    def _scope(self, scope: str) -> MemoryScope:
        return MemoryScope.of(
            scope, bot_id=self.bot_id, room_id=self.room_id, participant_id=self.participant_id
        )

    def remember(self, *, key: str, value: Any, scope: str, ttl_seconds: int | None) -> None:
        memory_remember(scope=self._scope(scope), key=key, value=value, ttl_seconds=ttl_seconds)

    def recall(self, *, key: str, scope: str) -> Any:
        return memory_recall(scope=self._scope(scope), key=key)

    def forget(self, *, key: str, scope: str) -> bool:
        return memory_forget(scope=self._scope(scope), key=key)


class ParticipantsFromDatabase:
    def __init__(self, *, room: Room) -> None:
        self.room = room

    def _mine(self) -> Any:
        return Participant.objects.filter(bot_id=self.room.bot_id, connector=self.room.connector)

    def find(self, name: str) -> ParticipantInfo | None:
        cleaned = name.strip().removeprefix("@")
        match = (
            self._mine()
            .filter(Q(display_name__iexact=cleaned) | Q(external_id=cleaned))
            .order_by("-last_seen_at")
            .first()
        )
        return participant_info(match) if match else None

    def trust_set(self, participant_id: int, trust_level: int) -> None:
        self._mine().filter(pk=participant_id).update(trust_level=trust_level)

    def ignored_set(self, participant_id: int, is_ignored: bool) -> None:
        self._mine().filter(pk=participant_id).update(is_ignored=is_ignored)


class RoomFromDatabase:
    def __init__(self, *, room: Room) -> None:
        self.room = room

    def mood_set(self, mood: str) -> None:
        Room.objects.filter(pk=self.room.pk).update(mood=mood)


class CountersFromCache:
    """Fixed-window counters in the shared cache; `incr` is atomic in Redis and locmem."""

    def hit(self, key: str, window_seconds: int) -> int:
        window_key = f"counter:{key}:{int(time.time() // window_seconds)}"
        cache.add(window_key, 0, timeout=window_seconds + 1)
        try:
            return cache.incr(window_key)
        except ValueError:  # expired between add and incr: this is the window's first hit
            cache.set(window_key, 1, timeout=window_seconds + 1)
            return 1


# Refill, take one token if there is one, store; in one step inside Redis so that every
# process shares the bucket. Redis's own clock keeps the processes' clocks out of it.
TAKE_FROM_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_second * 1000) + 1000)
return allowed
"""


class TokenBucketsInCache:
    """Token buckets in Redis (atomic, shared by all processes) or, in the embedded run's
    process-local cache, under a lock."""

    _lock = threading.Lock()

    def take(self, key: str, *, capacity: int, per_second: float) -> bool:
        full_key = cache.make_key(f"bucket:{key}")
        backend = caches["default"]  # `cache` is a proxy to it, never a RedisCache instance
        if isinstance(backend, RedisCache):
            client = backend._cache.get_client(full_key, write=True)
            return bool(client.eval(TAKE_FROM_BUCKET_LUA, 1, full_key, capacity, per_second))
        with self._lock:
            now = time.monotonic()
            tokens, at = cache.get(full_key, (float(capacity), now))
            tokens = min(capacity, tokens + max(0.0, now - at) * per_second)
            allowed: bool = tokens >= 1
            cache.set(
                full_key,
                (tokens - 1 if allowed else tokens, now),
                timeout=int(capacity / per_second) + 1,
            )
            return allowed
