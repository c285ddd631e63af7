import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from botsite import http


class FakeApi(BaseHTTPRequestHandler):
    """A local JSON API whose paths behave badly on purpose."""

    def do_GET(self) -> None:
        routes = {
            "/ok": (200, json.dumps({"main": {"temp": 21}, "host": self.headers["Host"]})),
            "/redirect": (302, ""),
            "/broken": (503, "{}"),
            "/missing": (404, "{}"),
            "/html": (200, "<html></html>"),
            "/huge": (200, json.dumps({"x": "a" * 5000})),
        }
        if self.path == "/slow":
            time.sleep(2)
        status, body = routes.get(self.path, (200, "{}"))
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://10.0.0.1/")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.HTTP_MAX_RESPONSE_BYTES = 1000
    settings.HTTP_TIMEOUT_SECONDS = 0.5
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_and_local_addresses_are_refused_before_any_connection(url):
    with pytest.raises(http.OutboundError, match="not allowed") as caught:
        http.target_resolve(url)

    assert not caught.value.is_transient


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///x"])
def test_only_http_urls_with_a_host_are_allowed(url):
    with pytest.raises(http.OutboundError, match="Only http"):
        http.target_resolve(url)


def test_an_allowed_host_is_fetched_as_json_with_its_host_header(api):
    document = http.json_get(f"{api}/ok")

    assert document["main"] == {"temp": 21}
    assert document["host"] == api.removeprefix("http://")


@pytest.mark.parametrize(
    ("path", "message", "is_transient"),
    [
        ("/redirect", "redirect, which is not followed", False),
        ("/missing", "answered 404", False),
        ("/broken", "answered 503", True),
        ("/html", "not JSON", False),
        ("/huge", "larger than 1000 bytes", False),
        ("/slow", "took too long", True),
    ],
)
def test_bad_answers_are_errors_that_say_whether_to_retry(api, path, message, is_transient):
    with pytest.raises(http.OutboundError, match=message) as caught:
        http.json_get(f"{api}{path}")

    assert caught.value.is_transient is is_transient
