"""The database-backed ports a worker hands to actions (tests hand in-memory ones)."""

import time
from typing import Any

from django.core.cache import cache
from django.db.models import Q

from conversations.engine.messages import ParticipantInfo
from conversations.memory import MemoryScope, memory_forget, memory_recall, memory_remember
from conversations.models import Participant, Room
from conversations.selectors import participant_info


class MemoryFromDatabase:
    def __init__(self, *, bot_id: int, room_id: int, participant_id: int | None) -> None:
        self.ids = {"bot_id": bot_id, "room_id": room_id, "participant_id": participant_id}

    def _scope(self, scope: str) -> MemoryScope:
        return MemoryScope.of(scope, **self.ids)

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
