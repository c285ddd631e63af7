"""The bot snapshot the engine works on, built once per configuration version.

Every write to a bot's configuration (the bot row, its middleware, actions, commands,
patterns, response templates, participants' custom commands) gives the bot a new
`config_version` (`conversations/config.py`). Each process keeps the newest snapshot it
built per bot and reuses it while the version it reads with the bot row is unchanged, so a
change counts at the next message in every process, and an unchanged bot costs no query
beyond its own row.
"""

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from actions.models import Action, Command, Pattern, ResponseTemplate
from actions.registry import action_types
from conversations.memory import MemoryScope, memory_entries_with_prefix
from conversations.models import Bot, BotMiddleware
from engine.snapshots import (
    CUSTOM_COMMAND_KEY_PREFIX,
    ActionSnapshot,
    BotSnapshot,
    CommandSnapshot,
    MiddlewareSnapshot,
    PatternSnapshot,
    TemplateSnapshot,
)

#: This app's rows that are part of a bot's configuration, each with a `bot_id`
#: (`conversations/config.py` bumps the version when one changes).
CONFIG_MODELS = (Action, Command, Pattern, ResponseTemplate)


@dataclass(frozen=True)
class _Built:
    version: uuid.UUID
    #: When the first custom command in it expires, if any does.
    valid_until: datetime | None
    snapshot: BotSnapshot


_built: dict[int, _Built] = {}
_lock = threading.Lock()


def bot_snapshot_get(*, bot: Bot) -> BotSnapshot:
    """The bot's configuration as the engine sees it, as of the bot row passed in."""
    built = _built.get(bot.pk)
    if (
        built is not None
        and built.version == bot.config_version
        and (built.valid_until is None or built.valid_until > timezone.now())
    ):
        return built.snapshot
    # The version is read before the rows, so a snapshot stored under it is never older.
    snapshot, valid_until = _bot_snapshot_build(bot)
    with _lock:
        _built[bot.pk] = _Built(bot.config_version, valid_until, snapshot)
    return snapshot


def action_snapshot(action: Action) -> ActionSnapshot:
    # The type's floor always holds, even for rows saved without validation.
    floor = action_types.get(action.kind).min_trust if action.kind in action_types else 0
    return ActionSnapshot(
        id=action.pk,
        name=action.name,
        kind=action.kind,
        config=action.config,
        min_trust=max(action.min_trust, floor),
        description=action.description,
        prompts=action.prompts if isinstance(action.prompts, dict) else {},
    )


def _bot_snapshot_build(bot: Bot) -> tuple[BotSnapshot, datetime | None]:
    commands = {
        command.word: CommandSnapshot(
            word=command.word, action=action_snapshot(command.action), arguments=command.arguments
        )
        for command in Command.objects.filter(bot=bot, action__is_enabled=True)
        .select_related("action")
        .order_by("word")
    }
    middleware = tuple(
        MiddlewareSnapshot(kind=row.kind, config=row.config)
        for row in BotMiddleware.objects.filter(bot=bot, is_enabled=True).order_by("position", "id")
    )
    patterns = tuple(
        PatternSnapshot(
            id=pattern.pk,
            regex=pattern.regex,
            action=action_snapshot(pattern.action),
            arguments=pattern.arguments,
            priority=pattern.priority,
            example=pattern.example,
        )
        for pattern in Pattern.objects.filter(bot=bot, is_enabled=True, action__is_enabled=True)
        .select_related("action")
        .order_by("-priority", "id")
    )
    custom, valid_until = memory_entries_with_prefix(
        scope=MemoryScope(bot.pk), prefix=CUSTOM_COMMAND_KEY_PREFIX
    )
    snapshot = BotSnapshot(
        id=bot.pk,
        slug=bot.slug,
        name=bot.name,
        command_prefix=bot.command_prefix,
        names=tuple(bot.names),
        default_mood=bot.default_mood,
        commands=commands,
        middleware=middleware,
        fallback_text=bot.fallback_text,
        patterns=patterns,
        custom_commands={
            key.removeprefix(CUSTOM_COMMAND_KEY_PREFIX): value.get("text", "")
            for key, value in custom.items()
            if isinstance(value, dict)
        },
        templates=tuple(
            TemplateSnapshot(key=row.key, mood=row.mood, text=row.text, html=row.html)
            for row in ResponseTemplate.objects.filter(bot=bot)
        ),
    )
    return snapshot, valid_until
