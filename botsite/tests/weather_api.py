"""A local weather API for end-to-end tests of actions that call out: it records each
request, and can hang the first one or all of them until released."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlowOnceApi(BaseHTTPRequestHandler):
    """Answers the weather; the first request hangs long enough to kill the worker."""

    hits: list[float] = []

    def do_GET(self) -> None:
        SlowOnceApi.hits.append(time.monotonic())
        if len(SlowOnceApi.hits) == 1:
            time.sleep(5)
        self.answer()

    def answer(self) -> None:
        body = json.dumps({"temp": 21}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class HeldApi(SlowOnceApi):
    """Answers the weather once `released` is set; until then every request hangs."""

    released = threading.Event()

    def do_GET(self) -> None:
        SlowOnceApi.hits.append(time.monotonic())
        HeldApi.released.wait(timeout=30)
        self.answer()


class SlowApi(SlowOnceApi):
    """Answers the weather after `SECONDS`, every time; records when each request began
    and ended (`calls`)."""

    SECONDS = 3.0
    calls: list[tuple[float, float]] = []

    def do_GET(self) -> None:
        began = time.monotonic()
        time.sleep(SlowApi.SECONDS)
        self.answer()
        SlowApi.calls.append((began, time.monotonic()))


def api_serve(handler: type[BaseHTTPRequestHandler], port: int = 0) -> Iterator[str]:
    SlowOnceApi.hits = []
    SlowApi.calls = []
    HeldApi.released = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    HeldApi.released.set()
    server.shutdown()
