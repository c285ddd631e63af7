"""Memory written outside the `memory` port (by hand in the admin or the API), and its
expiry."""

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from botsite.db import queryset_delete
from conversations.config import bot_config_changed, memory_entry_is_config
from conversations.memory import MemoryScope
from conversations.models import MemoryEntry


def memory_entries_changed(entries: list[MemoryEntry]) -> None:
    """Memory edited by hand (admin, API): drop the cached reads, and rebuild the snapshots
    of bots whose custom commands changed (writes through `memory` do both already)."""
    keys = [
        MemoryScope(entry.bot_id, entry.room_id, entry.participant_id).cache_key(entry.key)
        for entry in entries
    ]
    # After the commit: a read before it would put the old value back in the cache.
    transaction.on_commit(lambda: cache.delete_many(keys))
    for bot_id in {entry.bot_id for entry in entries if memory_entry_is_config(entry)}:
        bot_config_changed(bot_id=bot_id)


def memory_entries_purge() -> int:
    """Delete expired memory entries; returns how many went."""
    deleted = queryset_delete(MemoryEntry.objects.filter(expires_at__lte=timezone.now()))
    return deleted.get(MemoryEntry._meta.label, 0)
