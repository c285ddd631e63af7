"""A PostgreSQL outage through real processes (daphne, worker, beat) on a cluster of the
test's own: quick and clear failures while it lasts, every process serving soon after it
ends, and every message answered once."""

import json
import time
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from botsite.tests.postgres import postgres_cluster
from botsite.tests.processes import (
    Process,
    chat_socket,
    read_until_closed,
    receive_until,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.timeout(420)]

#: psycopg's pool retries a lost database 1, 2, 4, 8, 16, 32 s apart: after an outage this
#: long its next attempt came about 28 s after the database was back (a shorter outage can
#: end just before an attempt and hide that).
OUTAGE_SECONDS = 35
#: Generous bounds, not benchmarks: the faults were 10 s waits and ~30 s recoveries.
ANSWER_SECONDS = 5.0
RECOVERY_SECONDS = 12.0


@pytest.fixture
def services_env(services_env):
    # Beat's "Sending due task" lines for its sweeps show that it reads its schedule again.
    return {**services_env, "LOG_HOUSEKEEPING_TASKS": "true"}


def timed(request) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = request()
    return response, time.monotonic() - started


def is_bot_message(frame: dict) -> bool:
    return frame.get("type") == "message" and frame["sender"]["kind"] == "bot"


def say(chat: ClientConnection, text: str, client_id: str) -> None:
    chat.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))


def answered(chat: ClientConnection, text: str, client_id: str, *, timeout: float) -> dict:
    """Send, and return the bot's reply (after the message's ack)."""
    say(chat, text, client_id)
    receive_until(
        chat, lambda f: f.get("type") == "ack" and f["client_id"] == client_id, timeout=timeout
    )
    return receive_until(chat, is_bot_message, timeout=timeout)


def beat_reads_its_schedule(beat: Process, since: int) -> bool:
    """Two ticks in a row without a database error: beat read its schedule at the second."""
    ticks = 0
    for line in beat.log()[since:].splitlines():
        if "ERROR" in line and "Database" in line:
            ticks = 0
        elif "Sending due task" in line:
            ticks += 1
            if ticks == 2:
                return True
    return False


def test_a_database_outage_fails_fast_and_clearly_and_every_process_serves_after_it(
    topology_on_database,
):
    with postgres_cluster() as database, topology_on_database(database.url) as system:
        base = f"http://127.0.0.1:{system.port}"
        beat = next(p for p in system.processes if p.name == "beat")
        daphne = next(p for p in system.processes if p.name == "daphne")
        before, during, recall = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())

        with chat_socket(system.port) as chat:
            chat.send('{"type": "hello"}')
            room = receive_until(chat, lambda f: f.get("type") == "welcome", timeout=10)["room"]
            answered(chat, "!remember colour teal", before, timeout=30)
            assert system.message_post("!ping", "api-client").status_code == 200
            staff = system.staff_cookie()
            with chat_socket(system.port, cookie=staff) as staff_chat:
                staff_chat.send('{"type": "hello"}')
                welcome = receive_until(staff_chat, lambda f: True, timeout=10)
                assert welcome["participant"]["name"] == "integrator", welcome

            database.stop()
            outage_ends = time.monotonic() + OUTAGE_SECONDS

            say(chat, "!remember flavour mint", during)
            refusal = receive_until(
                chat, lambda f: f.get("type") == "error", timeout=ANSWER_SECONDS
            )
            assert refusal["code"] == "unavailable", refusal
            assert refusal["client_id"] == during, refusal

            # New sockets cannot be greeted: a visitor's at hello (its room), a staff user's
            # at once (its session). The close code tells the page to come back later.
            for cookie in (None, staff):
                with chat_socket(system.port, cookie=cookie) as latecomer:
                    if cookie is None:
                        latecomer.send('{"type": "hello"}')
                    frame = receive_until(latecomer, lambda f: True, timeout=ANSWER_SECONDS)
                    assert frame["code"] == "unavailable", frame
                    with pytest.raises(ConnectionClosed) as closed:
                        read_until_closed(latecomer, timeout=ANSWER_SECONDS)
                    assert closed.value.rcvd is not None
                    assert closed.value.rcvd.code == 4503

            while time.monotonic() < outage_ends:  # clients keep coming meanwhile
                api, api_seconds = timed(lambda: system.message_post("!ping", "api-client"))
                assert api.status_code == 503, api.text
                assert api_seconds < ANSWER_SECONDS
                assert api.json()["code"] == "database_unavailable"
                assert int(api.headers["Retry-After"]) > 0

                page, page_seconds = timed(lambda: httpx.get(f"{base}/chat/demo/", timeout=30))
                assert page.status_code == 503, page.text
                assert page_seconds < ANSWER_SECONDS
                assert "Service unavailable" in page.text
                assert int(page.headers["Retry-After"]) > 0

                ready, ready_seconds = timed(lambda: httpx.get(f"{base}/readyz", timeout=30))
                assert ready.status_code == 503, ready.text
                assert ready_seconds < ANSWER_SECONDS
                assert ready.json()["checks"]["database"].startswith("error")

            beat_log_at_return = len(beat.log())
            database.start()
            deadline = time.monotonic() + RECOVERY_SECONDS

            def remaining() -> float:
                return max(deadline - time.monotonic(), 0.1)

            wait_until(
                lambda: system.message_post("!ping", "api-client").status_code == 200,
                timeout=remaining(),
                what="daphne to answer the API again",
                watch=system.processes,
            )
            # The socket stayed open: what it sent during the outage goes again, the same id.
            answered(chat, "!remember flavour mint", during, timeout=remaining())
            reply = answered(chat, "!recall colour", recall, timeout=remaining())
            assert "teal" in reply["text"], reply
            wait_until(
                lambda: beat_reads_its_schedule(beat, beat_log_at_return),
                timeout=remaining(),
                what="beat to read its schedule from the database again",
                watch=system.processes,
            )

        history = system.api_get("messages/", room=room, page_size=100).json()["results"]
        asked = [m for m in history if m["sender_kind"] == "participant"]
        assert [m["client_id"] for m in asked] == [before, during, recall]
        for message in asked:
            replies = [m for m in history if m["reply_to"] == message["id"]]
            assert len(replies) == 1, (message["text"], replies)
        assert "Traceback" not in daphne.log(), daphne.tail(80)
