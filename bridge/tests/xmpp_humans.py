"""People on XMPP, played by slixmpp clients of their own, each on an event loop in a thread
of its own (the test waits in its own thread, as for the IRC humans)."""

import asyncio
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.jid import JID

CONNECT_SECONDS = 20.0


@dataclass(frozen=True)
class Heard:
    where: str  # the room, or the bare JID of a one-to-one chat
    sender: str  # the nick in a room, the bare JID in a chat
    text: str


class XmppHuman:
    def __init__(self, port: int, jid: str, password: str, *, certificate: str) -> None:
        self.jid = jid
        self.nick = JID(jid).user
        self.heard: list[Heard] = []
        self.joins: list[tuple[str, str]] = []
        #: Chat states (XEP-0085) seen: (where, sender, state).
        self.states: list[tuple[str, str, str]] = []
        self.lock = threading.RLock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name=f"xmpp-{self.nick}", daemon=True
        )
        self.thread.start()
        self.client: ClientXMPP = self._run(self._connect(port, password, certificate))

    def _run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = CONNECT_SECONDS) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _connect(self, port: int, password: str, certificate: str) -> ClientXMPP:
        client = ClientXMPP(f"{self.jid}/phone", password)
        client.enable_direct_tls = False
        client.ssl_context = ssl.create_default_context(cadata=certificate)
        for plugin in ("xep_0030", "xep_0045", "xep_0085", "xep_0199"):
            client.register_plugin(plugin)
        started = asyncio.get_running_loop().create_future()
        client.add_event_handler("session_start", lambda _: started.set_result(None))
        client.add_event_handler("message", self._message)
        client.add_event_handler("groupchat_presence", self._presence)
        client.add_event_handler("chatstate", self._state)
        client.connect("127.0.0.1", port)
        await asyncio.wait_for(started, CONNECT_SECONDS)
        client.send_presence()
        return client

    def _message(self, message: Any) -> None:
        body = str(message["body"] or "")
        if not body or message["type"] not in ("chat", "normal", "groupchat"):
            return
        sender = message["from"]
        if message["type"] == "groupchat":
            heard = Heard(str(sender.bare), sender.resource, body)
        else:
            heard = Heard(str(sender.bare), str(sender.bare), body)
        with self.lock:
            self.heard.append(heard)

    def _state(self, message: Any) -> None:
        sender = message["from"]
        with self.lock:
            self.states.append((str(sender.bare), sender.resource, message["chat_state"]))

    def _presence(self, presence: Any) -> None:
        if presence["type"] != "unavailable":
            with self.lock:
                self.joins.append((str(presence["from"].bare), presence["from"].resource))

    def join(self, room: str) -> None:
        muc = self.client.plugin["xep_0045"]
        self._run(muc.join_muc_wait(JID(room), self.nick, maxstanzas=0, timeout=CONNECT_SECONDS))
        self.wait(lambda: (room, self.nick) in self.joins, what=f"{self.nick} in {room}")

    def say(self, room: str, text: str) -> None:
        self.loop.call_soon_threadsafe(
            lambda: self.client.send_message(mto=JID(room), mbody=text, mtype="groupchat")
        )

    def tell(self, jid: str, text: str) -> None:
        self.loop.call_soon_threadsafe(
            lambda: self.client.send_message(mto=JID(jid), mbody=text, mtype="chat")
        )

    def wait(self, condition: Callable[[], object], *, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return
            time.sleep(0.05)
        with self.lock:
            heard = "\n".join(f"{each.where} <{each.sender}> {each.text}" for each in self.heard)
        raise AssertionError(f"{self.nick} waited {timeout}s for {what}; heard:\n{heard}")

    def heard_from(self, sender: str, where: str | None = None) -> list[str]:
        with self.lock:
            return [
                each.text
                for each in self.heard
                if each.sender == sender and (where is None or each.where == where)
            ]

    def quit(self) -> None:
        async def leave() -> None:
            await self.client.disconnect(wait=2.0)
            # slixmpp's own tasks end here, not when the closed loop collects them.
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        try:
            self._run(leave(), timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            self.loop.close()
