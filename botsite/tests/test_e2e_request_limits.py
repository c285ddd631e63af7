"""Oversized request bodies against a real daphne: refused while read, memory untouched."""

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.load import rss_kib
from botsite.tests.processes import Process, http_ok
from botsite.tests.sites import embedded_site, once_in_ci

pytestmark = once_in_ci

CAP = 1024 * 1024
HUNDRED_MB = 100 * 1024 * 1024


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[tuple[int, Process]]:
    """`make run`'s daphne (the same application as production's), on a cap of 1 MiB."""
    with embedded_site(tmp_path, REQUEST_BODY_MAX_BYTES=str(CAP)) as site:
        yield site.port, site.process


def answer_while_sending(port: int, head: bytes, body: Iterator[bytes]) -> tuple[bytes, int]:
    """Send the head, then the body as fast as the server takes it, until the server answers.
    Returns the answer and how many body bytes had been sent by then."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(head)
        sent, answer = 0, b""
        deadline = time.monotonic() + 60
        for chunk in body:
            readable, writable, _ = select.select([client], [client], [], 5)
            if readable:
                break
            if writable:
                try:
                    sent += client.send(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
            assert time.monotonic() < deadline, "the server neither read nor answered"
        client.settimeout(10)
        while b"\r\n\r\n" not in answer or not answer.endswith(b"bytes."):
            data = client.recv(65536)
            if not data:
                break
            answer += data
        return answer, sent


def chunked_body(total: int) -> Iterator[bytes]:
    piece = b"x" * 65536
    frame = b"10000\r\n" + piece + b"\r\n"
    for _ in range(total // len(piece)):
        yield frame
    yield b"0\r\n\r\n"


def test_a_100_mb_chunked_body_is_refused_at_the_cap_and_the_server_does_not_grow(daphne):
    port, server = daphne
    before = rss_kib(server.popen.pid)
    head = (
        b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: multipart/form-data; boundary=x\r\n\r\n"
    )

    answer, sent = answer_while_sending(port, head, chunked_body(HUNDRED_MB))

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert answer.endswith(b"The request body is over 1048576 bytes.")
    assert sent < HUNDRED_MB // 2, "the answer came long after the cap was passed"
    grown_kib = rss_kib(server.popen.pid) - before
    assert grown_kib * 1024 < 2 * CAP, f"daphne grew by {grown_kib} KiB"


def test_a_declared_100_mb_body_is_refused_before_a_byte_of_it_is_sent(daphne):
    port, _server = daphne
    head = (
        b"POST /api/v1/bots/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {HUNDRED_MB}\r\n\r\n".encode()
    )

    answer, sent = answer_while_sending(port, head, iter([]))

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert answer.endswith(
        b'{"code": "request_too_large", "detail": "The request body is over 1048576 bytes."}'
    )
    assert sent == 0
    assert http_ok(f"http://127.0.0.1:{port}/healthz"), "the server serves on"
