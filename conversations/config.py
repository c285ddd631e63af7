"""A bot's configuration version: bumped on every write to what the engine reads of a bot.

Each process keeps the snapshot it built per bot (`actions/snapshots.py`) while the
version it reads with the bot row is unchanged, so a change counts at the next message in
every process. This app bumps the version for its own configuration rows (the bot's
middleware, participants' custom commands); `actions` does the same for its rows.
"""

import uuid
from typing import Any

from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from conversations.models import Bot, BotMiddleware, MemoryEntry
from engine.snapshots import CUSTOM_COMMAND_KEY_PREFIX


def bot_config_changed(*, bot_id: int) -> None:
    """Make every process rebuild the bot's snapshot at its next message."""
    Bot.objects.filter(pk=bot_id).update(config_version=uuid.uuid4())


def memory_entry_is_config(entry: MemoryEntry) -> bool:
    """Participants' custom commands live in bot-scope memory and are bot configuration."""
    return (
        entry.room_id is None
        and entry.participant_id is None
        and entry.key.startswith(CUSTOM_COMMAND_KEY_PREFIX)
    )


def _config_row_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    bot_config_changed(bot_id=instance.bot_id)


def _memory_entry_changed(sender: Any, instance: MemoryEntry, **kwargs: Any) -> None:
    if memory_entry_is_config(instance):
        bot_config_changed(bot_id=instance.bot_id)


def config_signals_connect(*models: type[Model]) -> None:
    """Bump the version on every save and delete of a row of `models`, each with a
    `bot_id`; each app passes its own configuration models.

    `QuerySet.update()` sends no signal: code that updates configuration rows in bulk
    calls `bot_config_changed` itself.
    """
    for model in models:
        post_save.connect(_config_row_changed, sender=model, dispatch_uid=f"config-{model}")
        post_delete.connect(_config_row_changed, sender=model, dispatch_uid=f"config-d-{model}")


def memory_signals_connect() -> None:
    """Bump the version when a custom command is saved. Deleting memory entries is left out
    on purpose (the purge of expired entries would lose Django's fast delete); the memory
    admin bumps."""
    post_save.connect(_memory_entry_changed, sender=MemoryEntry, dispatch_uid="config-memory")


#: This app's rows that are part of a bot's configuration.
CONFIG_MODELS: tuple[type[Model], ...] = (BotMiddleware,)
