import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

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
        if self.path == "/drip":
            self.send_response(200)
            self.end_headers()
            for _ in range(20):  # each chunk well within the read timeout, the whole not
                self.wfile.write(b"x" * 10)
                self.wfile.flush()
                time.sleep(0.1)
            return
        status, body = routes.get(self.path, (200, "{}"))
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "http://10.0.0.1/")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    do_POST = do_GET

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
        "http://0x7f000001/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://localhost./",
        "http://[fe80::1]/",
        "http://100.64.0.1/",
    ],
)
def test_private_and_local_addresses_are_refused_before_any_connection(url):
    with pytest.raises(http.OutboundError, match="not allowed") as caught:
        http.target_resolve(url)

    assert not caught.value.is_transient


@pytest.fixture
def dns(monkeypatch):
    """A resolver that answers what the test says for some names (the DNS is the edge)."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            family = {True: socket.AF_INET6, False: socket.AF_INET}
            return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["93.184.215.14", "192.168.0.7"], ["fd00::1"]])
def test_a_name_with_any_private_answer_is_refused(dns, addresses):
    dns["intranet.example.com"] = addresses

    with pytest.raises(http.OutboundError, match="private or local"):
        http.target_resolve("https://intranet.example.com/hook")


def test_an_allowed_host_may_resolve_to_a_private_address(dns, settings):
    dns["intranet.example.com"] = ["10.0.0.5"]
    settings.HTTP_ALLOWED_HOSTS = ["intranet.example.com"]

    assert http.target_resolve("https://intranet.example.com/").address == "10.0.0.5"


def test_the_connection_goes_to_the_checked_address_not_a_second_answer(dns, api):
    # A rebinding name: checked once, then the connection must not ask the resolver again.
    port = api.rsplit(":", 1)[1]
    dns["rebind.example.com"] = ["127.0.0.1"]
    with override_settings(HTTP_ALLOWED_HOSTS=["rebind.example.com"]):
        target = http.target_resolve(f"http://rebind.example.com:{port}/ok")
    assert target.address == "127.0.0.1"
    dns["rebind.example.com"] = ["10.9.9.9"]  # the next answer would be private

    with override_settings(HTTP_ALLOWED_HOSTS=["127.0.0.1"]), pytest.raises(http.OutboundError):
        http.json_get(f"http://rebind.example.com:{port}/ok")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "http:///x",
        "gopher://example.com/",
        "javascript:alert(1)",
        "data:text/plain,hi",
        "dict://127.0.0.1:6379/info",
    ],
)
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


def test_a_post_is_answered_with_any_status_and_never_follows_a_redirect(api):
    answer = http.request("POST", f"{api}/redirect", content=b"{}")

    assert answer.status == 302
    assert answer.headers["location"] == "http://10.0.0.1/"


def test_a_redirect_to_an_internal_address_is_not_followed_when_fetching(api):
    with pytest.raises(http.OutboundError, match="redirect"):
        http.content_get(f"{api}/redirect", accept="*/*")


def test_a_server_dripping_its_answer_is_cut_off_at_the_total_timeout(api, settings):
    settings.HTTP_MAX_RESPONSE_BYTES = 10_000_000

    with pytest.raises(http.OutboundError, match="took too long") as caught:
        http.content_get(f"{api}/drip", accept="*/*")

    assert caught.value.is_transient
