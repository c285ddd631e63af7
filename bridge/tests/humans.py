"""People on IRC, played by the `irc` library (jaraco's), not by the bridge's client."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import irc.client


@dataclass(frozen=True)
class Heard:
    target: str
    sender: str
    text: str


class Human:
    def __init__(self, port: int, nick: str, *, password: str | None = None) -> None:
        self.nick = nick
        self.reactor = irc.client.Reactor()
        self.heard: list[Heard] = []
        self.joins: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self.connection = self.reactor.server().connect("127.0.0.1", port, nick, password=password)
        for kind in ("pubmsg", "privmsg"):
            self.connection.add_global_handler(kind, self._message)
        self.connection.add_global_handler("join", self._join)
        self.running = True
        self.thread = threading.Thread(target=self._loop, name=f"human-{nick}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while self.running:
            self.reactor.process_once(timeout=0.1)

    def _message(self, connection: object, event: irc.client.Event) -> None:
        with self.lock:
            self.heard.append(Heard(event.target, event.source.nick, event.arguments[0]))

    def _join(self, connection: object, event: irc.client.Event) -> None:
        with self.lock:
            self.joins.append((event.target, event.source.nick))

    def join(self, channel: str) -> None:
        self.connection.join(channel)
        self.wait(lambda: (channel, self.nick) in self.joins, what=f"{self.nick} in {channel}")

    def say(self, target: str, text: str) -> None:
        self.connection.privmsg(target, text)

    def wait(self, condition: Callable[[], object], *, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return
            time.sleep(0.05)
        with self.lock:
            heard = "\n".join(f"{each.target} <{each.sender}> {each.text}" for each in self.heard)
        raise AssertionError(f"{self.nick} waited {timeout}s for {what}; heard:\n{heard}")

    def ask(self, target: str, text: str, *, answer: str, bot: str) -> None:
        """Say `text` and wait for one more line from `bot` with `answer` in it."""
        before = sum(answer in line for line in self.heard_from(bot, target))
        self.say(target, text)
        self.wait(
            lambda: sum(answer in line for line in self.heard_from(bot, target)) > before,
            what=f"{answer!r} after {text!r}",
        )

    def heard_from(self, sender: str, target: str | None = None) -> list[str]:
        with self.lock:
            return [
                each.text
                for each in self.heard
                if each.sender == sender and (target is None or each.target == target)
            ]

    def quit(self) -> None:
        self.running = False
        self.thread.join(timeout=5)
        self.connection.disconnect("bye")
