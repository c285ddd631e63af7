"""What a middleware stage is to the engine: the message it passes on, changes or drops,
what it may read and count, and the one method the pipeline calls. The stages themselves
are plugins (`conversations.middleware`), looked up for the engine by its caller."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from engine.messages import ParticipantInfo, Response, RoomInfo
from engine.snapshots import BotSnapshot, MiddlewareSnapshot


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


class MiddlewareStage(Protocol):
    def process(
        self, message: MiddlewareMessage, ctx: MiddlewareContext
    ) -> MiddlewareMessage | MiddlewareDrop | None: ...


#: The stage configured by a bot's middleware row, or None when its type is not installed.
StageFor = Callable[[MiddlewareSnapshot], MiddlewareStage | None]
