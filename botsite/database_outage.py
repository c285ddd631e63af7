"""A database outage answered quickly and plainly: 503 with `Retry-After`, a line in the log.

While PostgreSQL is down or restarting, every request that needs it fails the same way.
Pages answer a short 503 page, the REST API a JSON 503 (`botsite/api.py`), chat sockets
an `unavailable` error frame (`chat/consumers.py`); the log gets one warning every
`LOG_INTERVAL_SECONDS` per process instead of a traceback per request.
"""

import json
import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views import defaults
from psycopg_pool import PoolTimeout

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

logger = logging.getLogger(__name__)

#: What a client is told to wait before it tries again.
RETRY_AFTER_SECONDS = 5
#: The close code of a chat socket that cannot be greeted for an outage (websocket-protocol.md).
WEBSOCKET_CLOSE_CODE = 4503
SOCKET_DETAIL = "The server cannot reach its database; retry."
#: An outage is logged at most once in this many seconds per process.
LOG_INTERVAL_SECONDS = 10.0

# SQLSTATEs of a server that is gone or going: class 08 (connection exception),
# admin_shutdown, crash_shutdown, cannot_connect_now.
_SHUTDOWN_STATES = {"57P01", "57P02", "57P03"}

# Not a template: the auth context processor would read the session from the database.
_PAGE = (
    '<!doctype html>\n<html lang="en">\n<head><title>Service unavailable</title></head>\n'
    "<body><h1>Service unavailable</h1>"
    "<p>The site cannot reach its database right now. Try again in a moment.</p></body>\n"
    "</html>\n"
)

_log_lock = threading.Lock()
_logged_at = -LOG_INTERVAL_SECONDS


def is_database_outage(error: BaseException) -> bool:
    """Whether `error` says PostgreSQL cannot be reached now (rather than a faulty query)."""
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    cause = error.__cause__
    if isinstance(cause, PoolTimeout):  # no connection within the pool's timeout
        return True
    if not isinstance(cause, psycopg.Error):  # SQLite's "database is locked" and the like
        return False
    # psycopg's own errors carry no SQLSTATE: the connection was refused, lost or closed.
    sqlstate = cause.sqlstate
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _SHUTDOWN_STATES


def database_outage_log(error: BaseException, who: str) -> None:
    """Tell the operator, without a traceback and not for every request."""
    global _logged_at
    with _log_lock:
        now = time.monotonic()
        if now - _logged_at < LOG_INTERVAL_SECONDS:
            return
        _logged_at = now
    logger.warning(
        "database unavailable (%s: %s); %s are told to retry (logged once in %d s)",
        type(error.__cause__ or error).__name__,
        str(error).splitlines()[0] if str(error) else "",
        who,
        LOG_INTERVAL_SECONDS,
    )


def outage_page(request: HttpRequest, error: BaseException) -> HttpResponse:
    database_outage_log(error, "page visitors")
    response = HttpResponse(_PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Logged above, once for many requests: Django would add an ERROR line for each.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseOutageMiddleware:
    """Answers a view that failed for want of the database with the 503 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return outage_page(request, exception) if is_database_outage(exception) else None


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: the 503 page for an outage met outside a view (sessions, other
    middleware), Django's own 500 page for anything else."""
    error = sys.exc_info()[1]
    if error is not None and is_database_outage(error):
        return outage_page(request, error)
    return defaults.server_error(request)


class WebSocketOutageGuard:
    """ASGI, around the WebSocket stack: a socket whose session (a staff user's, say) could
    not be read for an outage is accepted and closed with `WEBSOCKET_CLOSE_CODE`, as the
    chat consumer closes one it cannot greet, instead of failing its handshake."""

    def __init__(self, inner: Callable[..., Awaitable[None]]) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        has_sent = False

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal has_sent
            has_sent = True
            await send(message)

        try:
            await self.inner(scope, receive, watched_send)
        except Exception as error:
            if has_sent or not is_database_outage(error):
                raise
            database_outage_log(error, "chat sockets")
            if (await receive())["type"] != "websocket.connect":
                return  # the client left meanwhile
            await send({"type": "websocket.accept"})
            frame = {"type": "error", "code": "unavailable", "detail": SOCKET_DETAIL}
            await send({"type": "websocket.send", "text": json.dumps(frame)})
            await send({"type": "websocket.close", "code": WEBSOCKET_CLOSE_CODE})
