"""A bot's configuration as the engine reads it: frozen values, built from the database
once per configuration version (`actions.snapshots`) and shared by every message."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: What a mood looks like: one lower-case word.
MOOD_PATTERN = r"^[a-z][a-z0-9_-]*$"
#: What a command word looks like, staff's or participants' own.
COMMAND_WORD_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
#: Bot-scope memory keys under which participants' custom commands live.
CUSTOM_COMMAND_KEY_PREFIX = "command:"


@dataclass(frozen=True)
class ActionSnapshot:
    id: int
    name: str
    kind: str
    config: Mapping[str, Any]
    min_trust: int
    description: str = ""
    #: What the bot asks for an argument the participant left out: name → question.
    prompts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandSnapshot:
    word: str
    action: ActionSnapshot
    #: Argument values fixed by staff for this command; the user's text fills the others.
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MiddlewareSnapshot:
    kind: str
    config: Mapping[str, Any]


@dataclass(frozen=True)
class PatternSnapshot:
    id: int
    regex: str
    action: ActionSnapshot
    #: Values fixed for this pattern, or {"group": name, "as": converter, ...} specs.
    arguments: Mapping[str, Any]
    priority: int = 0
    example: str = ""


@dataclass(frozen=True)
class TemplateSnapshot:
    key: str
    mood: str
    text: str
    html: str = ""


@dataclass(frozen=True)
class BotSnapshot:
    """A bot's configuration as one immutable value, loaded fresh for each message."""

    id: int
    slug: str
    name: str
    command_prefix: str
    names: tuple[str, ...]
    default_mood: str
    commands: Mapping[str, CommandSnapshot]
    middleware: tuple[MiddlewareSnapshot, ...] = ()
    fallback_text: str = ""
    #: Highest priority first; see `engine.patterns`.
    patterns: tuple[PatternSnapshot, ...] = ()
    templates: tuple[TemplateSnapshot, ...] = ()
    #: Commands participants set from the chat: word → reply text. Staff's win.
    custom_commands: Mapping[str, str] = field(default_factory=dict)
