"""The contract of an action type: what staff configure as a bot's action."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from botsite.registry import Plugin
from conversations.engine.messages import (
    ActionCall,
    BotSnapshot,
    ParticipantInfo,
    Response,
    RoomInfo,
    TrustLevel,
)


@dataclass(frozen=True)
class PostView:
    title: str
    link: str
    published_at: str | None
    tags: tuple[str, ...]


class PostsPort(Protocol):
    """Read access to the bot's publishers' posts."""

    def latest(
        self, *, publisher: str | None, limit: int, offset: int, tag: str | None
    ) -> list[PostView]:
        """Newest first; `publisher` is a slug of the bot's publishers, None for all."""
        ...


@dataclass(frozen=True)
class ActionContext:
    """What an action may know: the bot, where it was asked, by whom, and narrow ports."""

    bot: BotSnapshot
    room: RoomInfo
    participant: ParticipantInfo | None
    posts: PostsPort | None = None


@dataclass(frozen=True)
class NoArgs:
    """Arguments of an action that takes none."""


class ActionType(Plugin, ABC):
    """Base of action types.

    `Args` is a dataclass of typed arguments (int, float, str, bool; defaults make them
    optional). The engine fills them from the command text and checks their types before a
    call is made, so `run` gets them valid.
    """

    Args: ClassVar[type] = NoArgs
    #: The lowest trust level that may call this type, unless staff raise it per action.
    min_trust: ClassVar[int] = TrustLevel.VISITOR
    #: True only for cheap, pure types (no I/O, no side effects): they may run in the
    #: receiving process, right away, instead of on a Celery worker.
    runs_inline: ClassVar[bool] = False

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @abstractmethod
    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        """Do the action and return its responses, in order.

        Called on a Celery worker (or inline, for `runs_inline` types) with
        `call.arguments` already checked against `Args`
        (build them with `self.Args(**call.arguments)`). Raises `ActionFailed(reason,
        retryable=...)` when it cannot; a retryable failure is retried with backoff.
        """
