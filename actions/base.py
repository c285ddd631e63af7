"""The contract of an action type: what staff configure as a bot's action."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from botsite.registry import Plugin
from engine.messages import ActionCall, ParticipantInfo, Response, RoomInfo, TrustLevel
from engine.ports import (
    HttpPort,
    MemoryPort,
    ParticipantsPort,
    PostsPort,
    PostView,
    RoomPort,
    ScheduledView,
    SchedulePort,
    SubscriptionsPort,
    SubscriptionView,
)
from engine.snapshots import BotSnapshot

# An action plugin imports what it needs from here; the ports are the engine's, so that the
# apps that implement them (publishers, conversations) need not import actions.
__all__ = [
    "ActionContext",
    "ActionType",
    "HttpPort",
    "MemoryPort",
    "NoArgs",
    "ParticipantsPort",
    "PostView",
    "PostsPort",
    "RoomPort",
    "SchedulePort",
    "ScheduledView",
    "SubscriptionView",
    "SubscriptionsPort",
]


@dataclass(frozen=True)
class ActionContext:
    """What an action may know: the bot, where it was asked, by whom, and narrow ports.

    Ports are None where they are not offered (inline runs get none: they are pure).
    """

    bot: BotSnapshot
    room: RoomInfo
    participant: ParticipantInfo | None
    posts: PostsPort | None = None
    memory: MemoryPort | None = None
    participants: ParticipantsPort | None = None
    room_state: RoomPort | None = None
    schedule: SchedulePort | None = None
    http: HttpPort | None = None
    subscriptions: SubscriptionsPort | None = None


@dataclass(frozen=True)
class NoArgs:
    """Arguments of an action that takes none."""


class ActionType(Plugin, ABC):
    """Base of action types.

    `Args` is a dataclass of typed arguments (int, float, str, bool; defaults make them
    optional; `DictatedText` for words kept as typed, with the punctuation that ends
    them). The engine fills them from the command text and checks their types before a
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
