"""People on Matrix, played by matrix-nio's client on an event loop of their own (a thread),
so a test drives them as plainly as the IRC tests drive theirs."""

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from nio import (
    AsyncClient,
    ErrorResponse,
    InviteMemberEvent,
    MatrixRoom,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomMessageNotice,
    RoomMessageText,
    RoomPreset,
    RoomVisibility,
    TypingNoticeEvent,
)

CALL_SECONDS = 30


@dataclass(frozen=True)
class Heard:
    room_id: str
    sender: str
    text: str
    html: str


class MatrixHuman:
    def __init__(self, homeserver: str, user_id: str, password: str) -> None:
        self.user_id = user_id
        self.heard: list[Heard] = []
        #: (room id, user id, membership) of every member event seen.
        self.members: list[tuple[str, str, str]] = []
        #: (room id, user ids typing) of every typing notification seen.
        self.typing: list[tuple[str, tuple[str, ...]]] = []
        self.lock = threading.RLock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name=f"human-{user_id}", daemon=True
        )
        self.thread.start()
        self.client: AsyncClient = self._call(self._connect(homeserver, password))
        self.syncing = asyncio.run_coroutine_threadsafe(
            self.client.sync_forever(timeout=30_000), self.loop
        )
        self.wait(lambda: self.client.next_batch, what="the first sync")

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        answer = asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(CALL_SECONDS)
        assert not isinstance(answer, ErrorResponse), answer
        return answer

    async def _connect(self, homeserver: str, password: str) -> AsyncClient:
        client = AsyncClient(homeserver, self.user_id)
        answer = await client.login(password)
        assert not isinstance(answer, ErrorResponse), answer
        client.add_event_callback(self._message, (RoomMessageText, RoomMessageNotice))
        client.add_event_callback(self._member, (RoomMemberEvent, InviteMemberEvent))
        client.add_ephemeral_callback(self._typing, TypingNoticeEvent)
        return client

    async def _message(self, room: MatrixRoom, event: Any) -> None:
        with self.lock:
            self.heard.append(
                Heard(room.room_id, event.sender, event.body, event.formatted_body or "")
            )

    async def _member(self, room: MatrixRoom, event: Any) -> None:
        with self.lock:
            self.members.append((room.room_id, event.state_key, event.membership))

    async def _typing(self, room: MatrixRoom, event: TypingNoticeEvent) -> None:
        with self.lock:
            self.typing.append((room.room_id, tuple(event.users)))

    def room_create(
        self,
        *,
        alias: str | None = None,
        invite: tuple[str, ...] = (),
        is_direct: bool = False,
        is_public: bool = False,
    ) -> str:
        """A room of this person's (power level 100 in it); returns its id."""
        answer: RoomCreateResponse = self._call(
            self.client.room_create(
                visibility=RoomVisibility.public if is_public else RoomVisibility.private,
                alias=alias,
                is_direct=is_direct,
                preset=RoomPreset.public_chat if is_public else RoomPreset.trusted_private_chat,
                invite=invite,
            )
        )
        return str(answer.room_id)

    def join(self, room: str) -> None:
        self._call(self.client.join(room))

    def say(self, room_id: str, text: str) -> None:
        self._call(
            self.client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})
        )

    def has_joined(self, room_id: str, user_id: str) -> bool:
        with self.lock:
            return (room_id, user_id, "join") in self.members

    def wait(self, condition: Callable[[], object], *, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return
            time.sleep(0.05)
        with self.lock:
            heard = "\n".join(f"{each.room_id} <{each.sender}> {each.text}" for each in self.heard)
        raise AssertionError(f"{self.user_id} waited {timeout}s for {what}; heard:\n{heard}")

    def heard_from(self, sender: str, room_id: str) -> list[Heard]:
        with self.lock:
            return [
                each for each in self.heard if each.sender == sender and each.room_id == room_id
            ]

    def texts_from(self, sender: str, room_id: str) -> list[str]:
        return [each.text for each in self.heard_from(sender, room_id)]

    def saw_typing(self, user_id: str, room_id: str) -> bool:
        with self.lock:
            return any(room == room_id and user_id in users for room, users in self.typing)

    def quit(self) -> None:
        self.syncing.cancel()
        asyncio.run_coroutine_threadsafe(self.client.close(), self.loop).result(CALL_SECONDS)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
