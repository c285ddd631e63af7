"""What an action may reach beyond its arguments: narrow ports, each a Protocol with the
plain values it returns. Actions receive them in their `ActionContext`; the apps that own
the data implement them (`conversations.ports`, `publishers.ports`)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine.messages import ParticipantInfo


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


class MemoryPort(Protocol):
    """Remembered values of this bot, scoped to the bot, this room or this participant."""

    def remember(self, *, key: str, value: Any, scope: str, ttl_seconds: int | None) -> None:
        """Store a value; the newest entry for a key wins; `ttl_seconds` None keeps it."""
        ...

    def recall(self, *, key: str, scope: str) -> Any:
        """The newest unexpired value for the key, or None."""
        ...

    def forget(self, *, key: str, scope: str) -> bool:
        """Forget the key; returns whether there was something to forget."""
        ...


class ParticipantsPort(Protocol):
    """The participants of this bot, as seen from the room an action runs in."""

    def find(self, name: str) -> ParticipantInfo | None:
        """A participant of this room's connector by display name or id, else None."""
        ...

    def trust_set(self, participant_id: int, trust_level: int) -> None: ...

    def ignored_set(self, participant_id: int, is_ignored: bool) -> None: ...


@dataclass(frozen=True)
class ScheduledView:
    id: int
    action: str
    arguments: Mapping[str, Any]
    due_in_seconds: int


class SchedulePort(Protocol):
    """Calls this participant scheduled for later in this room."""

    def upcoming(self) -> list[ScheduledView]:
        """Soonest first."""
        ...

    def cancel(self, run_id: int) -> bool:
        """Cancel one of `upcoming()`; returns whether it was still waiting."""
        ...


@dataclass(frozen=True)
class SubscriptionView:
    publisher: str
    name: str
    tag: str


class SubscriptionsPort(Protocol):
    """This room's subscriptions to the bot's publishers (posts are pushed into the room)."""

    def publishers(self) -> list[SubscriptionView]:
        """The bot's enabled publishers (tag empty)."""
        ...

    def subscribe(self, *, publisher: str, tag: str) -> bool:
        """Subscribe the room; False if it already was. Raises LookupError if no publisher."""
        ...

    def unsubscribe(self, *, publisher: str) -> int:
        """End the room's subscriptions to the publisher (every tag); returns how many."""
        ...

    def list(self) -> list[SubscriptionView]: ...


class HttpPort(Protocol):
    """Outbound HTTP through the project's one client (limits, no private networks)."""

    def json_get(self, url: str) -> Any:
        """The decoded JSON answer; raises `ActionFailed` (retryable where it may pass)."""
        ...


class RoomPort(Protocol):
    """Settings of the room the action runs in."""

    def mood_set(self, mood: str) -> None:
        """Set the room's mood; an empty mood returns to the bot's default."""
        ...
