"""Per-address limits across two real daphne processes sharing one Redis."""

import contextlib
import json
import signal
import sys
import uuid
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from botsite.tests.processes import (
    Process,
    chat_socket,
    free_port,
    http_ok,
    read_until_closed,
    start,
    wait_until,
)
from chat.demo import demo_install


@pytest.fixture
def two_daphnes(transactional_db, services_env, tmp_path) -> Iterator[list[tuple[int, Process]]]:
    demo_install()
    env = {
        **services_env,
        "CHAT_ADDRESS_MAX_SOCKETS": "4",
        "CHAT_ADDRESS_SOCKET_TTL_SECONDS": "2",
        "CHAT_ADDRESS_FLOOD_BURST": "6",
        "CHAT_ADDRESS_FLOOD_PER_SECOND": "0.01",
    }
    servers = []
    for name in ("daphne-a", "daphne-b"):
        port = free_port()
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                   "botsite.asgi:application"]  # fmt: skip
        servers.append((port, start(name, command, env, tmp_path)))
    try:
        for port, server in servers:
            wait_until(lambda p=port: http_ok(f"http://127.0.0.1:{p}/readyz"), timeout=60,
                       what="daphne to be ready", watch=[server])  # fmt: skip
        yield servers
    finally:
        for _, server in servers:
            server.stop(timeout=30)


def greeted(port: int) -> ClientConnection:
    socket_ = chat_socket(port)
    socket_.send(json.dumps({"type": "hello"}))
    assert json.loads(socket_.recv(timeout=10))["type"] == "welcome"
    return socket_


def refused_code(port: int) -> int | None:
    """The close code of a socket the server refuses for its address, None if it is kept."""
    socket_ = chat_socket(port)
    try:
        first = json.loads(socket_.recv(timeout=1))
    except TimeoutError:
        socket_.close()
        return None
    assert first["code"] == "too_many_sockets", first
    try:
        read_until_closed(socket_)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


def test_one_address_shares_its_sockets_across_servers_and_a_dead_servers_stop_counting(
    two_daphnes,
):
    (port_a, daphne_a), (port_b, daphne_b) = two_daphnes
    on_a = [greeted(port_a) for _ in range(2)]
    on_b = [greeted(port_b) for _ in range(2)]

    try:
        assert refused_code(port_b) == 4430
        assert refused_code(port_a) == 4430

        daphne_a.stop(signal.SIGKILL)
        freed = wait_until(
            lambda: chat_socket_kept(port_b),
            timeout=15,
            what="the killed server's sockets to stop counting",
            watch=[daphne_b],
        )
        on_b.append(freed)
        on_b.append(greeted(port_b))
        assert refused_code(port_b) == 4430, "two places freed, not more"
    finally:
        for socket_ in [*on_a, *on_b]:
            socket_.close()


def chat_socket_kept(port: int) -> ClientConnection | None:
    socket_ = chat_socket(port)
    try:
        frame = json.loads(socket_.recv(timeout=0.5))
    except TimeoutError:
        return socket_
    assert frame["code"] == "too_many_sockets", frame
    socket_.close()
    return None


def test_the_frames_of_one_address_share_one_allowance_across_servers(two_daphnes):
    (port_a, daphne_a), (port_b, daphne_b) = two_daphnes
    on_a, on_b = greeted(port_a), greeted(port_b)  # two frames of six
    try:
        # Each one stored before the next is sent: frames on two servers are otherwise
        # taken in no set order, and the seventh taken could be one of these.
        for number, socket_ in enumerate((on_a, on_b, on_a, on_b)):
            client_id = str(uuid.uuid4())
            socket_.send(json.dumps({"type": "message", "text": "hi", "client_id": client_id}))
            acked: list[dict] = []
            wait_until(
                lambda s=socket_, c=client_id, a=acked: any(
                    f.get("type") == "ack" and f.get("client_id") == c for f in frames(s, a)
                ),
                timeout=60,
                what=f"message {number + 1} stored",
                watch=[daphne_a, daphne_b],
            )
        seen: list[dict] = []
        on_b.send(json.dumps({"type": "message", "text": "one too many"}))
        wait_until(
            lambda: any(f.get("code") == "rate_limited" for f in frames(on_b, seen)),
            timeout=60,  # behind the six frames' storing, on a loaded machine
            what="the seventh frame to be refused",
            watch=[daphne_a, daphne_b],
        )
        texts = [f["text"] for f in seen if f.get("type") == "message"]
        assert "one too many" not in texts
    finally:
        on_a.close()
        on_b.close()


def frames(socket_: ClientConnection, seen: list[dict]) -> list[dict]:
    with contextlib.suppress(TimeoutError):
        seen.append(json.loads(socket_.recv(timeout=0.2)))
    return seen
