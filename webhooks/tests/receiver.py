"""A local webhook receiver for tests: verifies each signature with the standard's library,
answers as scripted, and processes each webhook-id once, as a careful receiver does."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    url: str
    secret: str = ""
    #: (status, headers, seconds to wait first) answered in turn; then 204.
    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
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
            time.sleep(wait)
            if 200 <= status < 300:
                try:
                    data = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    status = 401
                else:
                    with receiver.lock:
                        message_id = headers["webhook-id"]
                        receiver.processed[message_id] = receiver.processed.get(message_id, 0) + 1
                        receiver.bodies.setdefault(message_id, data)
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
