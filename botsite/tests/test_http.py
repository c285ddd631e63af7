import functools
import gzip
import json
import threading
import time
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import override_settings

from botsite import http


@functools.cache
def compressed_zeros(size: int, wbits: int) -> bytes:
    """`size` zero bytes compressed (about a thousandth of that), made without holding them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, compressor.flush()])


BOMB_BYTES = 100 * 1024 * 1024


class FakeApi(BaseHTTPRequestHandler):
    """A local JSON API whose paths behave badly on purpose."""

    def do_GET(self) -> None:
        encoded = {
            "/gzip-bomb": ("gzip", lambda: compressed_zeros(BOMB_BYTES, zlib.MAX_WBITS | 16)),
            "/deflate-bomb": ("deflate", lambda: compressed_zeros(BOMB_BYTES, zlib.MAX_WBITS)),
            "/gzip-json": ("gzip", lambda: gzip.compress(b'{"main": {"temp": 21}}')),
            "/raw-deflate-json": ("deflate", lambda: zlib.compress(b'{"temp": 22}', wbits=-15)),
            "/brotli": ("br", lambda: b"\x0b\x02\x80{}\x03"),
            "/gzip-then-junk": ("gzip", lambda: gzip.compress(b"{}") + b"j" * 5000),
            "/gzip-twice": ("gzip, gzip", lambda: gzip.compress(gzip.compress(b"{}"))),
        }
        if self.path in encoded:
            coding, make = encoded[self.path]
            body = make()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", coding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        routes = {
            "/ok": (200, json.dumps({"main": {"temp": 21}, "host": self.headers["Host"]})),
            "/redirect": (302, ""),
            "/broken": (503, "{}"),
            "/missing": (404, "{}"),
            "/html": (200, "<html></html>"),
            "/huge": (200, json.dumps({"x": "a" * 5000})),
            "/deep": (200, "[" * 50_000 + "]" * 50_000),
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
    settings.HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{server.server_address[1]}"]
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
    with override_settings(HTTP_ALLOWED_HOSTS=[f"rebind.example.com:{port}"]):
        target = http.target_resolve(f"http://rebind.example.com:{port}/ok")
    assert target.address == "127.0.0.1"
    dns["rebind.example.com"] = ["10.9.9.9"]  # the next answer would be private

    with pytest.raises(http.OutboundError, match="private or local"):
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


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "64:ff9b:1::808:808",  # local-use NAT64: a private translator
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "::7f00:1",  # IPv4-compatible ::127.0.0.1
        "::a00:5",  # IPv4-compatible ::10.0.0.5
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT) 127.0.0.1
        "::ffff:10.0.0.5",  # IPv4-mapped
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "fec0::1",  # site-local
    ],
)
def test_an_ipv6_answer_carrying_a_private_ipv4_address_is_refused(dns, address):
    dns["sneaky.example.com"] = [address]

    with pytest.raises(http.OutboundError, match="private or local"):
        http.target_resolve("https://sneaky.example.com/feed")
    with pytest.raises(http.OutboundError, match="private or local"):
        http.target_resolve(f"http://[{address}]/feed")


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "64:ff9b::808:808"]
)
def test_a_public_answer_is_accepted_and_pinned(dns, address):
    dns["news.example.com"] = [address]

    assert http.target_resolve("https://news.example.com/feed").address == address


def test_a_bare_allowed_host_opens_only_the_default_ports(dns, settings):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1", "feeds.internal"]
    dns["feeds.internal"] = ["10.0.0.7"]

    assert http.target_resolve("http://127.0.0.1/feed").address == "127.0.0.1"
    assert http.target_resolve("https://feeds.internal/feed").address == "10.0.0.7"
    for url in ["http://127.0.0.1:6379/", "http://feeds.internal:8080/", "https://127.0.0.1:22/"]:
        with pytest.raises(http.OutboundError, match="private or local"):
            http.target_resolve(url)


def test_an_allowed_host_and_port_opens_that_port_only(dns, settings):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1:8080", "[::1]:8081", "Feeds.Internal.:9000"]
    dns["feeds.internal"] = ["10.0.0.7"]

    assert http.target_resolve("http://127.0.0.1:8080/").address == "127.0.0.1"
    assert http.target_resolve("http://[::1]:8081/").address == "::1"
    assert http.target_resolve("http://feeds.internal:9000/").address == "10.0.0.7"
    for url in ["http://127.0.0.1/", "http://127.0.0.1:6379/", "http://[::1]:8080/"]:
        with pytest.raises(http.OutboundError, match="private or local"):
            http.target_resolve(url)


@pytest.mark.parametrize("entry", ["127.0.0.1:", "127.0.0.1:http", "[::1]:70000", ":80"])
def test_a_malformed_allow_list_entry_is_a_configuration_error(settings, entry):
    settings.HTTP_ALLOWED_HOSTS = [entry]

    with pytest.raises(ImproperlyConfigured, match="host or host:port"):
        http.target_resolve("https://93.184.215.14/")


def test_the_save_time_check_is_a_validation_error_naming_the_reason(dns):
    dns["intranet.example.com"] = ["10.0.0.5"]
    dns["news.example.com"] = ["93.184.215.14"]

    assert http.url_check("https://news.example.com/feed") == "https://news.example.com/feed"
    with pytest.raises(ValidationError, match="private or local") as caught:
        http.url_validator("https://intranet.example.com/feed")
    assert caught.value.code == "url_refused"
    with pytest.raises(ValidationError, match="cannot be resolved"):
        http.url_validator("https://unknown.example.com/feed")


@pytest.mark.parametrize("path", ["/gzip-bomb", "/deflate-bomb"])
def test_a_compression_bomb_is_refused_at_the_cap_without_inflating_it(api, settings, path):
    settings.HTTP_MAX_RESPONSE_BYTES = 1_000_000
    settings.HTTP_TIMEOUT_SECONDS = 30
    assert len(compressed_zeros(BOMB_BYTES, zlib.MAX_WBITS | 16)) < 150_000  # small on the wire
    tracemalloc.start()
    try:
        with pytest.raises(http.OutboundError, match="larger than 1000000 bytes") as caught:
            http.content_get(f"{api}{path}", accept="*/*")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert not caught.value.is_transient
    assert peak < 4 * 1_000_000  # 100 MB inflated: it never holds much more than the cap


@pytest.mark.parametrize(
    ("path", "document"),
    [("/gzip-json", {"main": {"temp": 21}}), ("/raw-deflate-json", {"temp": 22})],
)
def test_a_compressed_answer_is_decoded(api, path, document):
    assert http.json_get(f"{api}{path}") == document


def test_an_encoding_that_was_not_asked_for_is_a_clear_error(api):
    with pytest.raises(http.OutboundError, match="unsupported Content-Encoding: br"):
        http.json_get(f"{api}/brotli")


def test_bytes_after_the_compressed_stream_count_against_the_cap(api):
    with pytest.raises(http.OutboundError, match="larger than 1000 bytes"):
        http.json_get(f"{api}/gzip-then-junk")


def test_an_answer_nested_past_the_json_limit_is_an_error_not_a_crash(api, settings):
    settings.HTTP_MAX_RESPONSE_BYTES = 200_000  # room for 50,000 levels, past the recursion limit

    with pytest.raises(http.OutboundError, match="nested deeper than 64 levels") as caught:
        http.json_get(f"{api}/deep")

    assert caught.value.is_transient is False


def test_an_answer_encoded_more_than_once_is_refused(api):
    # Each layer of a stack inflated its own bomb before the cap on the last one applied.
    with pytest.raises(http.OutboundError, match="encoded 2 times over"):
        http.json_get(f"{api}/gzip-twice")
