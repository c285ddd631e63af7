"""What one chat socket has been sent, so that a catch-up sends each message once."""

from collections import deque
from collections.abc import Iterable

from engine.messages import OutboundMessage

#: Ids remembered per socket. A catch-up sends at most `CHAT_CATCHUP_LIMIT` messages, from
#: shortly before the newest one sent: older ids than these are never sent again.
REMEMBERED_IDS = 2000


class SocketFeed:
    """The ids of the messages sent on one socket (the latest few thousand)."""

    def __init__(self) -> None:
        self.last_id: int | None = None
        self._order: deque[int] = deque()
        self._ids: set[int] = set()

    def start_after(self, last_id: int | None) -> None:
        """The client showed messages up to `last_id` before this socket (its hello)."""
        if self.last_id is None:
            self.last_id = last_id

    def unsent(self, messages: Iterable[OutboundMessage]) -> list[OutboundMessage]:
        """Those of the messages this socket was not sent yet, now counted as sent."""
        fresh = []
        for message in messages:
            if message.id in self._ids:
                continue
            fresh.append(message)
            self._ids.add(message.id)
            self._order.append(message.id)
            if len(self._order) > REMEMBERED_IDS:
                self._ids.discard(self._order.popleft())
            self.last_id = message.id if self.last_id is None else max(self.last_id, message.id)
        return fresh
