"""What the engine takes and gives for one message: the message in, calls and responses
out, with who sent it and where (a bot's configuration is in `engine.snapshots`)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from uuid import UUID

from engine.snapshots import ActionSnapshot


class TrustLevel(IntEnum):
    """How far the bot trusts a participant; actions name the minimum they need."""

    VISITOR = 0
    MEMBER = 10
    TRUSTED = 50
    OWNER = 100


@dataclass(frozen=True)
class InboundMessage:
    """What a connector hands to the service: a text from someone, somewhere."""

    bot_slug: str
    connector: str
    room_external_id: str
    participant_external_id: str
    participant_name: str
    text: str
    client_id: UUID | None = None
    is_direct: bool = False
    user_id: int | None = None
    #: The network said the message is meant for the bot (its nick addressed on IRC, a
    #: mention), beyond the bot's own names that the engine knows.
    is_addressed: bool = False


@dataclass(frozen=True)
class Response:
    """One reply: plain text, and optionally HTML that is sanitised before it leaves.

    With a `template` key, staff's response template of that key (in the room's mood)
    replaces `text` and `html`, filled with `values`; `text` is the default when staff
    wrote none.
    """

    text: str
    html: str = ""
    template: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RoomInfo:
    id: int
    connector: str
    is_direct: bool
    mood: str


@dataclass(frozen=True)
class ParticipantInfo:
    id: int
    name: str
    trust_level: int
    is_ignored: bool = False


@dataclass(frozen=True)
class ActionCall:
    """One action to run, with its arguments bound and checked against the type's `Args`."""

    action: ActionSnapshot
    arguments: Mapping[str, Any]
    source: str
    #: Run this much later ("… in 20 minutes"); 0 runs as soon as possible.
    delay_seconds: int = 0


@dataclass(frozen=True)
class PendingCall:
    """A call waiting for the participant's answer for the argument `missing`."""

    action: ActionSnapshot
    arguments: Mapping[str, Any]
    missing: str
    source: str

    @property
    def prompt(self) -> str:
        return self.action.prompts.get(self.missing, f"What {self.missing}?")


@dataclass
class Outcome:
    """What the engine decided for one message; `trace` explains how, for staff.

    `pending` is a call to keep waiting for the next answer; `is_pending_done` says the
    call that was waiting is finished (answered, cancelled or abandoned).
    """

    calls: list[ActionCall] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    is_dropped: bool = False
    pending: PendingCall | None = None
    is_pending_done: bool = False
    retention_seconds: int | None = None

    def note(self, stage: str, **detail: Any) -> None:
        self.trace.append({"stage": stage, **detail})


@dataclass(frozen=True)
class OutboundMessage:
    """A stored message as connectors deliver it: the participant's own, a reply, a post."""

    id: int
    room_id: int
    sender_kind: str
    sender_name: str
    text: str
    html: str
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "room_id": self.room_id,
            "sender_kind": self.sender_kind,
            "sender_name": self.sender_name,
            "text": self.text,
            "html": self.html,
            "created_at": self.created_at,
        }
