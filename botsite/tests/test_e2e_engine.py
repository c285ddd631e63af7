"""The conversation engine end to end on PostgreSQL and Redis: separate daphne, worker and
beat processes, a worker killed in the middle of an action, questions, reminders, batches."""

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from actions.models import Action, ActionRun, Command
from botsite.tests.processes import bot_says, chat_socket, receive_until, wait_until
from conversations.models import Bot, Message

pytestmark = [pytest.mark.e2e, pytest.mark.services]


class SlowOnceApi(BaseHTTPRequestHandler):
    """Answers the weather; the first request hangs long enough to kill the worker."""

    hits: list[float] = []

    def do_GET(self) -> None:
        SlowOnceApi.hits.append(time.monotonic())
        if len(SlowOnceApi.hits) == 1:
            time.sleep(5)
        body = json.dumps({"temp": 21}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def weather_api():
    SlowOnceApi.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowOnceApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_worker_killed_in_the_middle_of_an_action_answers_exactly_once(topology, weather_api):
    bot = Bot.objects.get(slug="demo")
    action = Action.objects.create(
        bot=bot,
        name="weather",
        kind="http_json",
        config={
            "url": f"{weather_api}/weather?q={{query}}",
            "fields": {"temp": "temp"},
            "reply": "It is {temp}° in {query}.",
        },
    )
    Command.objects.create(bot=bot, word="weather", action=action)

    with chat_socket(topology.port) as chat:
        chat.send('{"type": "message", "text": "!weather Oslo"}')
        wait_until(lambda: SlowOnceApi.hits, timeout=30, what="the action to call the API")
        topology.worker.stop(sig=signal.SIGKILL)  # the whole worker, mid-request
        topology.worker_start("worker-2")

        receive_until(chat, bot_says("It is 21° in Oslo."), timeout=60)

    run = ActionRun.objects.get(action_name="weather")
    assert (run.status, run.attempts) == (ActionRun.Status.SUCCEEDED, 2)
    assert Message.objects.filter(reply_to=run.message, sender_kind="bot").count() == 1
    assert len(SlowOnceApi.hits) == 2


def test_a_question_a_reminder_and_sentences_over_the_chat(topology):
    with chat_socket(topology.port) as chat:
        for text, answer in [
            ("!remember", "What should I call it?"),
            ("wifi", "What should I remember?"),
            ("the code is 1234", "OK, I'll remember wifi."),
            ("!recall wifi", "wifi: the code is 1234"),
            ("Hey bot, get me the 6th most recent post", "Generics in Go, two years on"),
            ("remind me to stretch in 2 seconds", "OK, in 2 seconds."),
        ]:
            chat.send(json.dumps({"type": "message", "text": text}))
            receive_until(chat, bot_says(answer), timeout=30)

        reminder = receive_until(chat, bot_says("⏰"), timeout=30)

    assert reminder["text"] == "⏰ Visitor, you asked me to remind you: stretch"


def test_two_participants_asking_in_one_window_get_one_reply_addressed_to_both(topology):
    Bot.objects.filter(slug="demo").update(batch_window_ms=1500)

    def ask(participant: str) -> httpx.Response:
        return topology.message_post("!latest-post", participant, room="team", wait=20)

    # Windows are aligned to the clock: two questions sent near the end of one fall into
    # two windows. Start just after a window begins, so both land in the same one.
    window_seconds = 1.5
    time.sleep(window_seconds - time.time() % window_seconds + 0.05)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(ask, ["ada", "bob"]))

    assert [answer.status_code for answer in answers] == [200, 200]
    texts = {answer.json()["replies"][0]["text"] for answer in answers}
    assert texts in (
        {"ada, bob: • Schedules that survive restarts"},
        {"bob, ada: • Schedules that survive restarts"},
    )
    assert Message.objects.filter(sender_kind="bot").count() == 1
