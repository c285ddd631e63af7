"""The contract of a connector type: translate between a platform and the engine."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from botsite.exceptions import BotsiteError
from botsite.registry import Plugin
from engine.messages import InboundMessage, OutboundMessage


class InvalidInbound(BotsiteError):
    """What arrived cannot be understood; the connector answers with `code` and `detail`."""

    code = "invalid_message"


def inbound_text_problem(text: str) -> str | None:
    """Why `text` from outside cannot be stored as it is, or None when it can. Every
    connector's way in refuses such text (PostgreSQL refuses NUL in text; a lone surrogate
    is no character, UTF-8 cannot encode it, so SQLite refuses it)."""
    if "\x00" in text:
        return "contains a NUL character (U+0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"contains a lone surrogate (U+{ord(text[error.start]):04X})"
    return None


@dataclass(frozen=True)
class ConnectorIdentity:
    """Who is on the other end and where, as the connector's edge established it."""

    bot_slug: str
    room_external_id: str
    participant_external_id: str
    participant_name: str
    is_direct: bool = False
    user_id: int | None = None


class ConnectorType(Plugin, ABC):
    """Base of connector types. A connector translates; it makes no decisions."""

    #: Its network connections are held by a bridge process (IRC, ...), configured per bot
    #: as `Connector` rows; the others are Botsite's own edges (web chat, REST API).
    is_bridged: ClassVar[bool] = False

    def rooms_configured(self, config: dict[str, Any]) -> list[str]:
        """The rooms a bridged connector joins by its settings (channels, ...)."""
        return []

    @abstractmethod
    def parse(self, raw: Any, identity: ConnectorIdentity) -> InboundMessage:
        """Turn what the platform sent into an `InboundMessage`.

        Called by the connector's edge (consumer, view) for each inbound payload.
        Raises `InvalidInbound` with a stable code when the payload is malformed.
        """

    @abstractmethod
    def render(self, message: OutboundMessage) -> Any:
        """Turn one stored message into the payload this platform sends."""
