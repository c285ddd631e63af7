"""One cap for every HTTP request body (`REQUEST_BODY_MAX_BYTES`), before anything reads it.

Two layers, one limit:
- daphne (twisted) takes in the whole body before the application sees a byte: into a
  temporary file, then every chunk of it onto the application's queue at once. So a cap
  applied inside the application comes after the memory is spent. `refuse_oversized_bodies`
  makes daphne's request answer 413 as soon as `Content-Length` is over the cap, or as soon
  as a chunked body's bytes pass it, and take in nothing more.
- `RequestBodyLimitMiddleware` holds the same line for any ASGI server, and gives a body
  sent without `Content-Length` (chunked) a length, so Django and DRF read it rather than
  taking it for empty.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: How long a refused connection is read and discarded after the 413, so the client has the
#: chance to read the answer instead of a reset, before it is cut off.
LINGER_SECONDS = 5.0


def too_large_answer(path: str, limit: int) -> tuple[bytes, bytes]:
    """The 413's content type and body: the API's error shape under /api/, text elsewhere."""
    detail = f"The request body is over {limit} bytes."
    if path.startswith("/api/"):
        body = json.dumps({"code": "request_too_large", "detail": detail}).encode()
        return b"application/json", body
    return b"text/plain; charset=utf-8", detail.encode()


def _refuse(request: Any, limit: int) -> None:
    """Answer 413 on the raw connection, stop taking in the body, close after a linger."""
    request._botsite_body_refused = True
    channel = request.channel
    path = (getattr(channel, "_path", b"") or b"").decode("latin-1").split("?", 1)[0]
    content_type, body = too_large_answer(path, limit)
    logger.info("request body over %s bytes refused (%s)", limit, path)
    transport = channel.transport
    transport.write(
        b"HTTP/1.1 413 Content Too Large\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Connection: close\r\n\r\n" + body
    )
    # Whatever else arrives is read and dropped: closing with unread data would reset the
    # connection, and the client could lose the answer.
    channel.dataReceived = lambda data: None
    getattr(transport, "loseWriteConnection", transport.loseConnection)()
    from twisted.internet import reactor

    reactor.callLater(LINGER_SECONDS, transport.abortConnection)


def refuse_oversized_bodies(request_class: type) -> None:
    """Patch daphne's `WebRequest` once so bodies over the cap are refused while read."""
    if getattr(request_class, "_botsite_refuses_large_bodies", False):
        return
    got_length = request_class.gotLength
    content_chunk = request_class.handleContentChunk

    def gotLength(self: Any, length: int | None) -> None:
        self._botsite_body_bytes = 0
        limit = settings.REQUEST_BODY_MAX_BYTES
        if length is not None and length > limit:
            got_length(self, 0)  # an empty in-memory file, never written
            _refuse(self, limit)
            return
        got_length(self, length)

    def handleContentChunk(self: Any, data: bytes) -> None:
        if getattr(self, "_botsite_body_refused", False):
            return
        self._botsite_body_bytes += len(data)
        limit = settings.REQUEST_BODY_MAX_BYTES
        if self._botsite_body_bytes > limit:
            _refuse(self, limit)
            return
        content_chunk(self, data)

    request_class.gotLength = gotLength
    request_class.handleContentChunk = handleContentChunk
    request_class._botsite_refuses_large_bodies = True


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large_send(send: Send, scope: Scope, limit: int) -> None:
    content_type, body = too_large_answer(scope.get("path", ""), limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestBodyLimitMiddleware:
    """413 for an HTTP body over `REQUEST_BODY_MAX_BYTES`: at once when `Content-Length`
    says so; a body without one is counted as it arrives, up to the cap, and handed on
    with the length it turned out to have."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.REQUEST_BODY_MAX_BYTES
        length = _content_length(scope)
        if length is not None:
            if length > limit:
                await _too_large_send(send, scope, limit)
                return
            # The server reads exactly Content-Length bytes; nothing more can come.
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before the end of its body
            body += message.get("body", b"")
            if len(body) > limit:
                await _too_large_send(send, scope, limit)
                return
            if not message.get("more_body", False):
                break
        if body:
            headers = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read so far, then whatever the server sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> dict[str, Any]:
        if pending:
            return pending.pop()
        return await receive()

    return replayed
