"""The contract of a middleware type: one stage of a bot's ordered message stack."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

from botsite.registry import Plugin
from conversations.engine.messages import BotSnapshot, ParticipantInfo, Response, RoomInfo


@dataclass(frozen=True)
class MiddlewareMessage:
    """The message as it travels the stack; stages may return a changed copy."""

    text: str
    #: Keep the message (and the bot's replies to it) only this long; None: keep.
    retention_seconds: int | None = None


@dataclass(frozen=True)
class MiddlewareDrop:
    """A stage's verdict that drops the message and answers the participant with `reply`
    (rendered like every reply: a staff template of its key, in the room's mood)."""

    reply: Response


class CounterPort(Protocol):
    """Shared counters (the cache: Redis in production), for limits across processes."""

    def hit(self, key: str, window_seconds: int) -> int:
        """Count one more in the current window of `key`; returns the count so far."""
        ...


class TokenBucketPort(Protocol):
    """Token buckets in the shared cache, refilled continuously, for rate limits."""

    def take(self, key: str, *, capacity: int, per_second: float) -> bool:
        """Take one token from the bucket `key`; False when it is empty."""
        ...


@dataclass(frozen=True)
class MiddlewareContext:
    bot: BotSnapshot
    room: RoomInfo
    participant: ParticipantInfo
    counters: CounterPort | None = None
    buckets: TokenBucketPort | None = None


class MiddlewareType(Plugin, ABC):
    """Base of middleware types. One concern each; no per-message state on `self`."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @abstractmethod
    def process(
        self, message: MiddlewareMessage, ctx: MiddlewareContext
    ) -> MiddlewareMessage | MiddlewareDrop | None:
        """Called for every message of the bot, in stack order, before parsing.

        Return the message unchanged to pass it on, a changed copy (`dataclasses.replace`)
        to rewrite it, or None to drop it: a dropped message is stored but not answered.
        `MiddlewareDrop(reply)` drops it too, and gives that one reply instead.
        """
