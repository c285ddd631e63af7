"""Every close code of docs/websocket-protocol.md, as a WebSocket client receives it from a
real daphne: `make run`'s server (with daphne's frame size limit) and a bare daphne started
without one; and bad input to the embedded run's API. Client mistakes log no traceback."""

import re
import sys
from contextlib import ExitStack

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from botsite.tests.processes import (
    Process,
    chat_socket,
    free_port,
    http_ok,
    read_until_closed,
    receive_until,
    start,
    wait_until,
)
from botsite.tests.sites import EmbeddedSite, once_in_ci
from botsite.tests.subprocess_env import REPO

pytestmark = [pytest.mark.e2e, once_in_ci]

SOCKETS_PER_ADDRESS = 3
LIMITS = {
    "CHAT_FLOOD_BURST": "3",
    "CHAT_FLOOD_PER_SECOND": "0.01",
    "CHAT_ADDRESS_MAX_SOCKETS": str(SOCKETS_PER_ADDRESS),
}


def documented_close_codes() -> set[int]:
    text = (REPO / "docs" / "websocket-protocol.md").read_text()
    table = text.split("## Limits and close codes", 1)[1].split("\n\n")[1]
    return {int(code) for code in re.findall(r"^\| (\d{3,4}) ", table, re.MULTILINE)}


def closed_with(port: int, *frames: str | bytes, bot: str = "demo") -> int:
    with chat_socket(port, bot) as chat:
        for frame in frames:
            chat.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            read_until_closed(chat)
    assert closed.value.rcvd is not None, "the server dropped the connection without a close"
    return closed.value.rcvd.code


def handshake_status(port: int, origin: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{port}/ws/chat/demo/", origin=origin, open_timeout=10)
    return refused.value.response.status_code


def deep_json_is_an_error_and_the_socket_stays_open(port: int) -> None:
    with chat_socket(port) as chat:
        chat.send('{"type": "hello"}')
        chat.send("[" * 10_000 + "]" * 10_000)
        error = receive_until(chat, lambda frame: frame["type"] == "error", timeout=10)
        assert (error["code"], "JSON_MAX_DEPTH" in error["detail"]) == ("invalid_json", True)
        chat.send('{"type": "message", "text": "!ping"}')
        receive_until(chat, lambda frame: frame.get("text") == "pong", timeout=15)


def welcomed(port: int, stack: ExitStack) -> ClientConnection:
    """A greeted socket, once the server has a place for one more from this address (a
    socket the server closed a moment ago may not have given its place back yet)."""

    def attempt() -> ClientConnection | None:
        chat = chat_socket(port)
        chat.send('{"type": "hello"}')
        if receive_until(chat, lambda frame: True, timeout=10)["type"] == "welcome":
            return stack.enter_context(chat)
        chat.close()
        return None

    return wait_until(attempt, timeout=30, what="a place for a socket of this address")


def closed_past_the_sockets_limit(port: int) -> int:
    with ExitStack() as held:
        for _ in range(SOCKETS_PER_ADDRESS):
            welcomed(port, held)
        return closed_with(port)


def assert_no_traceback(process: Process) -> None:
    assert "Traceback" not in process.log(), process.tail(80)


@pytest.fixture
def site(tmp_path):
    site = EmbeddedSite(tmp_path / "data", tmp_path, **LIMITS)
    yield site
    site.stop()


def test_make_runs_server_closes_with_every_documented_code_and_logs_no_traceback(site):
    site.start()
    assert site.process is not None
    port = site.port
    received = {
        403: handshake_status(port, origin=f"http://127.0.0.1:{free_port()}"),
        1009: closed_with(port, '{"type": "hello"}', "x" * 100_000),
        4003: closed_with(port, '{"type": "hello"}', b"\x00\x01"),
        4404: closed_with(port, '{"type": "hello"}', bot="nobody"),
        4429: closed_with(port, '{"type": "hello"}', *['{"type": "ping"}'] * 40),
        4430: closed_past_the_sockets_limit(port),
    }
    deep_json_is_an_error_and_the_socket_stays_open(port)

    # 4009 is the bare daphne's (below): here daphne's own read limit answers first. 4503
    # needs the database gone: test_e2e_database_outage.py receives it from a real daphne.
    assert set(received) | {4009, 4503} == documented_close_codes()
    assert received == {code: code for code in received}, site.process.tail(80)
    assert_no_traceback(site.process)


def test_a_daphne_without_a_frame_size_limit_closes_oversized_frames_with_4009(site):
    port = free_port()
    # No --websocket-max-message-size: only the chat's own size check stands.
    bare = f"-m daphne --bind 127.0.0.1 --port {port} botsite.asgi:application".split()
    daphne = start(
        "bare-daphne",
        [sys.executable, *bare],
        site.env,
        site.logs,
    )
    try:
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/healthz"),
            timeout=60,
            what="a bare daphne",
            watch=[daphne],
        )
        received = {
            4009: closed_with(port, '{"type": "hello"}', "x" * 100_000),
            4003: closed_with(port, '{"type": "hello"}', b"\x00\x01"),
        }
        deep_json_is_an_error_and_the_socket_stays_open(port)
    finally:
        daphne.stop()

    assert received == {4009: 4009, 4003: 4003}, daphne.tail(80)
    assert_no_traceback(daphne)


MAKE_TOKEN = """
from django.contrib.auth import get_user_model
from conversations.models import Bot
from integrations.services import api_token_create
user = get_user_model().objects.create_user("integrator")
demo = Bot.objects.get(slug="demo")
_, secret = api_token_create(name="e2e", user=user, bots=[demo], scope="write")
print(secret)
"""


def test_the_embedded_api_answers_bad_json_and_text_with_a_400_not_a_debug_page(site):
    site.start()
    assert site.process is not None
    token = site.django(MAKE_TOKEN).strip()
    url = f"{site.base}/api/v1/bots/demo/messages/"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deep = '{"participant": "p", "text": "hi", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"

    too_deep = httpx.post(url, content=deep, headers=headers, timeout=30)
    nul = httpx.post(url, content='{"participant": "p", "text": "a\\u0000b"}', headers=headers)
    fine = httpx.post(url, content='{"participant": "p", "text": "!ping"}', headers=headers)

    assert (too_deep.status_code, too_deep.headers["content-type"]) == (400, "application/json")
    assert "JSON nested deeper than 64 levels" in too_deep.json()["detail"]
    assert nul.status_code == 400
    assert "NUL" in nul.json()["fields"]["text"][0]
    assert [reply["text"] for reply in fine.json()["replies"]] == ["pong"]
    assert_no_traceback(site.process)
