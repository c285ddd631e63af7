"""Memory: an append-only log of expiring entries; the newest unexpired one for a key wins.

Reads are cached (the process cache in the embedded run, Redis in production) and every
write drops the cached value, so all processes see a change on their next read.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from conversations.models import MemoryEntry

SCOPES = ("bot", "room", "participant")
CACHE_SECONDS = 300
_MISSING = {"missing": True}


@dataclass(frozen=True)
class MemoryScope:
    """Where a key lives: the whole bot, one room, or one participant of the bot."""

    bot_id: int
    room_id: int | None = None
    participant_id: int | None = None

    @classmethod
    def of(
        cls, scope: str, *, bot_id: int, room_id: int | None, participant_id: int | None
    ) -> "MemoryScope":
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        if scope == "room":
            return cls(bot_id, room_id=room_id)
        if scope == "participant":
            return cls(bot_id, participant_id=participant_id)
        return cls(bot_id)

    def lookups(self) -> dict[str, int | None]:
        """The scope as ORM lookups; a None id matches NULL, as Django reads `=None`."""
        return {
            "bot_id": self.bot_id,
            "room_id": self.room_id,
            "participant_id": self.participant_id,
        }

    def cache_key(self, key: str) -> str:
        return f"memory:{self.bot_id}:{self.room_id or '-'}:{self.participant_id or '-'}:{key}"


def memory_recall(*, scope: MemoryScope, key: str) -> Any:
    """The newest unexpired value for the key in the scope, or None."""
    cached = cache.get(scope.cache_key(key))
    if cached is not None:
        return None if cached == _MISSING else cached["value"]
    now = timezone.now()
    entry = (
        MemoryEntry.objects.filter(
            **scope.lookups(),
            key=key,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-id")
        .first()
    )
    timeout = CACHE_SECONDS
    if entry is not None and entry.expires_at is not None:
        timeout = max(1, min(timeout, int((entry.expires_at - now).total_seconds())))
    cache.set(scope.cache_key(key), _MISSING if entry is None else {"value": entry.value}, timeout)
    return None if entry is None else entry.value


def memory_remember(
    *, scope: MemoryScope, key: str, value: Any, ttl_seconds: int | None = None
) -> MemoryEntry:
    """Append an entry (None as value is a tombstone: the key reads as forgotten)."""
    now = timezone.now()
    entry = MemoryEntry.objects.create(
        bot_id=scope.bot_id,
        room_id=scope.room_id,
        participant_id=scope.participant_id,
        key=key,
        value=value,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds) if ttl_seconds else None,
    )
    cache.delete(scope.cache_key(key))
    return entry


def memory_forget(*, scope: MemoryScope, key: str) -> bool:
    had_value = memory_recall(scope=scope, key=key) is not None
    if had_value:
        memory_remember(scope=scope, key=key, value=None)
    return had_value


def memory_entries_with_prefix(
    *, scope: MemoryScope, prefix: str
) -> tuple[dict[str, Any], datetime | None]:
    """Every live key starting with `prefix` and its newest value (tombstones left out),
    and when the first of those values expires (None if none does)."""
    now = timezone.now()
    newest: dict[str, tuple[Any, datetime | None]] = {}
    for key, value, expires_at in (
        MemoryEntry.objects.filter(
            **scope.lookups(),
            key__startswith=prefix,
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("key", "-created_at", "-id")
        .values_list("key", "value", "expires_at")
    ):
        newest.setdefault(key, (value, expires_at))
    expiries = [expires_at for _, expires_at in newest.values() if expires_at is not None]
    live = {key: value for key, (value, _) in newest.items() if value is not None}
    return live, min(expiries, default=None)
