"""The one cap on request bodies, through the whole ASGI application (in process)."""

import asyncio
import base64
import json
from collections.abc import Iterator

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from botsite.asgi import application
from conversations.models import Bot

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 64 * 1024
CAP = 1024 * 1024


class Exchange:
    """One HTTP request to the application, its body handed over chunk by chunk."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.read = 0
        self.is_complete = False
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        if self.is_complete:
            await asyncio.Event().wait()  # as a server does: nothing until the client leaves
        chunk = next(self.chunks, None)
        if chunk is None:
            self.is_complete = True
            return {"type": "http.request", "body": b"", "more_body": False}
        self.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return next(m["status"] for m in self.sent if m["type"] == "http.response.start")

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def scope(path: str, *headers: tuple[bytes, bytes]) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def endless() -> Iterator[bytes]:
    while True:
        yield b"x" * CHUNK


@pytest.mark.parametrize(
    ("framing", "most_read"),
    [((b"content-length", b"104857600"), 0), ((b"transfer-encoding", b"chunked"), CAP + CHUNK)],
    ids=["declared-length", "chunked"],
)
async def test_a_body_over_the_cap_is_a_413_stating_it_before_more_is_read(
    settings, framing, most_read
):
    settings.REQUEST_BODY_MAX_BYTES = CAP
    exchange = Exchange(endless())

    await application(scope("/healthz", framing), exchange.receive, exchange.send)

    assert exchange.status == 413
    assert exchange.body == b"The request body is over 1048576 bytes."
    assert exchange.read <= most_read


def basic_auth() -> tuple[bytes, bytes]:
    get_user_model().objects.create_superuser("staff", password="staff-password-1")
    return (b"authorization", b"Basic " + base64.b64encode(b"staff:staff-password-1"))


def chunked(body: bytes) -> Iterator[bytes]:
    return (body[i : i + 1000] for i in range(0, len(body), 1000))


async def test_an_api_body_without_a_length_is_read_not_taken_for_empty():
    auth = await sync_to_async(basic_auth)()
    body = json.dumps({"slug": "chunked", "name": "Sent in chunks"}).encode()
    exchange = Exchange(chunked(body))
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked"), auth]

    await application(scope("/api/v1/bots/", *headers), exchange.receive, exchange.send)

    assert exchange.status == 201, exchange.body
    assert await Bot.objects.filter(slug="chunked", name="Sent in chunks").aexists()


@pytest.mark.parametrize(
    "content_type", [b"application/json", b"application/x-www-form-urlencoded"]
)
async def test_an_api_body_without_a_length_over_the_api_limit_is_a_413(settings, content_type):
    settings.API_MAX_BODY_BYTES = 1000
    auth = await sync_to_async(basic_auth)()
    exchange = Exchange(chunked(b"slug=big&name=" + b"x" * 3000))
    headers = [(b"content-type", content_type), (b"transfer-encoding", b"chunked"), auth]

    await application(scope("/api/v1/bots/", *headers), exchange.receive, exchange.send)

    assert exchange.status == 413
    assert json.loads(exchange.body) == {
        "code": "request_too_large",
        "detail": "The request body is over 1000 bytes.",
    }
    assert not await Bot.objects.filter(slug="big").aexists()
