"""A local webhook receiver for tests: verifies each signature with the standard's library,
answers as scripted, and processes each webhook-id once (as the standard asks receivers to),
counting how often each one arrived."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    url: str
    secret: str = ""
    #: (status, headers, seconds to wait first) answered in turn; then 204.
    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    #: Verified deliveries per webhook-id, and the ids processed (once each, deduplicated).
    received: dict[str, int] = field(default_factory=dict)
    processed: dict[str, int] = field(default_factory=dict)
    bodies: dict[str, object] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            with receiver.lock:
                receiver.requests.append(headers)
                status, extra, wait = receiver.script.pop(0) if receiver.script else (204, {}, 0)
            if 200 <= status < 300:
                try:
                    data = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    status = 401
                else:
                    message_id = headers["webhook-id"]
                    with receiver.lock:
                        receiver.received[message_id] = receiver.received.get(message_id, 0) + 1
                        if message_id not in receiver.processed:  # a retry of a known id
                            receiver.processed[message_id] = 1
                            receiver.bodies[message_id] = data
            time.sleep(wait)  # processed, but slow to say so: the sender may time out
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the sender gave up waiting
                pass

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook")
    server.RequestHandlerClass = _handler(receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """A running receiver that the outbound client may reach (its 127.0.0.1 port only)."""
    with webhook_receiver() as running:
        settings.HTTP_ALLOWED_HOSTS = [*settings.HTTP_ALLOWED_HOSTS, urlsplit(running.url).netloc]
        yield running
