"""`make run` as a newcomer runs it: real server, worker and beat in one process, on SQLite."""

import json
import re
import signal
import sys

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from botsite.tests.processes import (
    Process,
    bot_says,
    chat_socket,
    free_port,
    http_ok,
    port_is_closed,
    read_until_closed,
    receive_until,
    start,
    wait_until,
)
from botsite.tests.sites import embedded_site, once_in_ci
from botsite.tests.subprocess_env import (
    clean_env,
    outbound_allowed,
    run_manage,
    run_module,
    run_python,
)
from botsite.tests.weather_api import HeldApi, SlowOnceApi, api_serve

pytestmark = [pytest.mark.e2e, once_in_ci]

# A run whose broker message was lost: in the database, never enqueued. Only beat's sweeper
# can get it to the worker.
LOSE_A_RUN = """
import django
django.setup()
from actions.models import Action, ActionRun
from conversations.models import Room
room = Room.objects.filter(bot__slug="demo").latest("id")
ping = Action.objects.get(bot__slug="demo", name="ping")
ActionRun.objects.create(bot=room.bot, room=room, action=ping, action_name="ping")
"""

COUNT_DEMO_ROWS = """
import django
django.setup()
from actions.models import Action, Command
from conversations.models import Bot
from publishers.models import Post, Publisher
print([m.objects.count() for m in (Bot, Action, Command, Publisher, Post)])
"""


def make_run(tmp_path, port: int, name: str, **settings: str) -> Process:
    env = clean_env(
        BOTSITE_DATA_DIR=str(tmp_path / "data"),
        ACTION_RUN_SWEEP_SECONDS="1",
        PYTHON=sys.executable,
        **settings,
    )
    process = start(name, ["make", "--no-print-directory", "run", f"PORT={port}"], env, tmp_path)
    wait_until(
        lambda: http_ok(f"http://127.0.0.1:{port}/healthz"),
        timeout=120,
        what="the embedded server to answer /healthz",
        watch=[process],
    )
    return process


def test_make_run_answers_through_its_worker_fires_beat_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    system = make_run(tmp_path, port, "make-run")
    try:
        assert "Admin login (created): user 'admin', password '" in system.log()
        assert f"Chat: http://127.0.0.1:{port}/chat/demo/" in system.log()
        assert http_ok(f"http://127.0.0.1:{port}/chat/demo/")

        with chat_socket(port) as chat:
            chat.send('{"type": "message", "text": "!help"}')
            reply = receive_until(chat, bot_says("!ping"), timeout=15)
            assert "Demo bot understands these commands:" in reply["text"]
            assert "Task actions.tasks.action_runs_execute" in system.log(), (
                "the reply must come from the Celery worker"
            )

            lost = run_python(LOSE_A_RUN, clean_env(BOTSITE_DATA_DIR=str(tmp_path / "data")))
            assert lost.returncode == 0, lost.stderr
            receive_until(chat, bot_says("pong"), timeout=30)
            assert "enqueueing 1 due or stuck action runs" in system.log(), "beat's sweeper"

        # The printed admin login works, here for the REST conversation endpoint.
        password = re.search(r"password '([^']+)'", system.log()).group(1)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/bots/demo/messages/",
            json={"text": "get me the most recent post about golang", "participant": "e2e"},
            auth=("admin", password),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["replies"][0]["text"] == "• Range-over-func iterators in Go"
    finally:
        code = system.stop()

    assert port_is_closed(port), "Ctrl-C stopped the server"
    assert code is not None

    # A second run on the same data: no failure, no duplicate demo data, same admin login.
    again = make_run(tmp_path, port, "make-run-again")
    try:
        assert "Admin login (exists)" in again.log()
        with chat_socket(port) as chat:
            chat.send('{"type": "message", "text": "Hey bot, get me the 6th most recent post"}')
            receive_until(chat, bot_says("Generics in Go, two years on"), timeout=15)
    finally:
        again.stop()
    counts = run_python(COUNT_DEMO_ROWS, clean_env(BOTSITE_DATA_DIR=str(tmp_path / "data")))
    assert counts.stdout.strip() == "[1, 19, 19, 1, 7]", counts.stderr


@pytest.fixture
def held_weather_api():
    yield from api_serve(HeldApi)


HANGING_WEATHER = """
import django
django.setup()
from actions.models import Action, Command
from conversations.models import Bot
bot = Bot.objects.get(slug="demo")
action = Action.objects.create(bot=bot, name="weather", kind="http_json", config={{
    "url": "{api}/weather", "fields": {{"temp": "temp"}}, "reply": "It is {{temp}}°.",
}})
Command.objects.create(bot=bot, word="weather", action=action)
"""


def test_a_question_in_flight_when_the_process_was_killed_is_answered_after_a_restart(
    tmp_path, held_weather_api
):
    data = {"BOTSITE_DATA_DIR": str(tmp_path / "data")}
    fast_beats = {
        "WORKER_HEARTBEAT_SECONDS": "1",
        "HTTP_ALLOWED_HOSTS": outbound_allowed(held_weather_api),
    }
    port = free_port()
    system = make_run(tmp_path, port, "make-run", **fast_beats)
    added = run_python(HANGING_WEATHER.format(api=held_weather_api), clean_env(**data))
    assert added.returncode == 0, added.stderr
    with chat_socket(port) as chat:
        chat.send('{"type": "hello"}')
        welcome = receive_until(chat, lambda frame: frame["type"] == "welcome", timeout=10)
        chat.send('{"type": "message", "text": "!weather"}')
        wait_until(lambda: SlowOnceApi.hits, timeout=30, what="the action to call the API")
    system.stop(sig=signal.SIGKILL)  # server, worker and beat: one process
    HeldApi.released.set()

    again = make_run(tmp_path, port, "make-run-again", **fast_beats)
    try:
        with chat_socket(port) as chat:
            chat.send(json.dumps({"type": "hello", "visitor": welcome["visitor"]}))
            receive_until(chat, bot_says("It is 21°."), timeout=30)
    finally:
        again.stop()
    assert "runs of worker processes that stopped beating" in again.log()


def test_a_separate_worker_refuses_the_in_process_broker(tmp_path):
    result = run_module(
        "celery",
        "-A",
        "botsite",
        "worker",
        "--pool",
        "solo",
        env=clean_env(BOTSITE_DATA_DIR=str(tmp_path)),
    )

    assert result.returncode != 0
    assert "memory:// broker only works inside" in result.stdout + result.stderr


def test_the_embedded_run_refuses_to_start_when_redis_is_configured(tmp_path):
    result = run_manage(
        "runembedded",
        "--noreload",
        "127.0.0.1:1",
        env=clean_env(
            BOTSITE_DATA_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:6379/15", DEBUG="true"
        ),
    )

    assert result.returncode != 0
    assert "run daphne, `celery worker` and `celery beat` as separate processes" in result.stderr


def test_the_embedded_server_closes_an_oversized_frame_with_1009(tmp_path):
    with embedded_site(tmp_path) as site, chat_socket(site.port) as chat:
        chat.send('{"type": "hello"}')
        chat.send("x" * 100_000)
        with pytest.raises(ConnectionClosed) as closed:
            read_until_closed(chat)

    assert closed.value.rcvd.code == 1009
