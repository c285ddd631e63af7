"""Start, watch and stop the real processes that end-to-end tests talk to."""

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from botsite.tests.subprocess_env import REPO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def children(self) -> list[int]:
        """The pids of the process's children (a prefork worker's pool), read from /proc."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # "pid (name) state ppid ...": the name may hold spaces, so split after it.
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while being read
                continue
            if int(fields[1]) == self.popen.pid:
                pids.append(int(stat.parent.name))
        return pids

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        """Signal the whole process group (as Ctrl-C does) and wait; kill if it hangs."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
                raise AssertionError(
                    f"{self.name} did not stop within {timeout}s of {sig!r}:\n{self.tail()}"
                ) from None
        return self.popen.returncode


def start(name: str, command: Sequence[str], env: dict[str, str], logs: Path) -> Process:
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    popen = subprocess.Popen(
        list(command),
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a signal reaches its children
    )
    return Process(name=name, popen=popen, log_path=log_path)


def wait_until(
    condition: Callable[[], Any], *, timeout: float, what: str, watch: Sequence[Process] = ()
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in watch:
            if process.popen.poll() is not None:
                raise AssertionError(
                    f"{process.name} exited while waiting for {what}:\n{process.tail()}"
                )
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    logs = "\n\n".join(f"--- {p.name}\n{p.tail()}" for p in watch)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class RedisServer:
    """A redis-server of a test's own on a free port, to kill and start again on that port.

    Nothing is saved to disk: a Redis killed and started again comes back empty, as one
    that lost its memory would."""

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.logs = logs
        self.process: Process | None = None
        self.starts = 0

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.starts += 1
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        env = {"PATH": os.environ.get("PATH", "")}
        self.process = start(f"redis-{self.starts}", command, env, self.logs)
        wait_until(self.is_up, timeout=20, what="redis-server to answer", watch=[self.process])

    def is_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, every client's connection drops at once."""
        if self.process is not None:
            self.process.stop(sig=signal.SIGKILL)
            wait_until(lambda: port_is_closed(self.port), timeout=10, what="Redis to be gone")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(sig=signal.SIGTERM)


def chat_socket(port: int, bot: str = "demo", *, cookie: str | None = None) -> ClientConnection:
    return connect(
        f"ws://127.0.0.1:{port}/ws/chat/{bot}/",
        origin=f"http://127.0.0.1:{port}",
        additional_headers={"Cookie": cookie} if cookie else None,
        open_timeout=10,
    )


def receive_until(
    socket_: ClientConnection, predicate: Callable[[dict], bool], *, timeout: float
) -> dict:
    """Read frames until one matches; fail with every frame seen when none does."""
    deadline = time.monotonic() + timeout
    seen = []
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(socket_.recv(timeout=remaining))
        except TimeoutError:
            break
        seen.append(frame)
        if predicate(frame):
            return frame
    raise AssertionError(f"no matching frame within {timeout}s; got {seen}")


def bot_says(text: str) -> Callable[[dict], bool]:
    return lambda frame: (
        frame.get("type") == "message"
        and frame["sender"]["kind"] == "bot"
        and (text in frame["text"])
    )


def read_until_closed(socket_: ClientConnection, *, timeout: float = 10) -> None:
    """Read frames until the server closes the socket (raises ConnectionClosed) or time is up."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        socket_.recv(timeout=remaining)
    raise AssertionError(f"the server did not close the socket within {timeout}s")
