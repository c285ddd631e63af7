"""The conversation engine end to end on PostgreSQL and Redis: separate daphne, worker and
beat processes, a worker killed in the middle of an action, questions, reminders, batches."""

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest

from actions.models import Action, ActionRun, Command
from botsite.tests.processes import bot_says, chat_socket, receive_until, wait_until
from botsite.tests.weather_api import HeldApi, SlowOnceApi, api_serve
from conversations.models import Bot, Message

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.fixture
def weather_api(weather_port):
    yield from api_serve(SlowOnceApi, weather_port)


@pytest.fixture
def held_weather_api(weather_port):
    yield from api_serve(HeldApi, weather_port)


def weather_command(api: str) -> None:
    bot = Bot.objects.get(slug="demo")
    action = Action.objects.create(
        bot=bot,
        name="weather",
        kind="http_json",
        config={
            "url": f"{api}/weather?q={{query}}",
            "fields": {"temp": "temp"},
            "reply": "It is {temp}° in {query}.",
        },
    )
    Command.objects.create(bot=bot, word="weather", action=action)


def test_a_worker_killed_in_the_middle_of_an_action_answers_exactly_once(topology, weather_api):
    weather_command(weather_api)

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


CITIES = ["Oslo", "Lima", "Pune", "Baku", "Riga", "Suva"]


def runs_claimed_by_hanging_tasks(topology, stack: ExitStack, *, heartbeat_seconds: int):
    """Questions from sockets of their own, queued while no worker runs, then claimed by a
    new worker whose tasks hang in the weather API; returns the sockets and the runs.

    The run timeout is out of reach for the workers started from here, so only the
    mechanism a test is about can bring the runs back."""
    topology.env = {
        **topology.env,
        "ACTION_RUN_TIMEOUT_SECONDS": "3600",
        "WORKER_HEARTBEAT_SECONDS": str(heartbeat_seconds),
    }
    if any(process.name.startswith("worker") for process in topology.processes):
        topology.worker.stop()
    chats = [stack.enter_context(chat_socket(topology.port)) for _ in CITIES]
    for chat, city in zip(chats, CITIES, strict=True):
        chat.send(json.dumps({"type": "message", "text": f"!weather {city}"}))
    runs = ActionRun.objects.filter(action_name="weather")
    wait_until(lambda: runs.filter(enqueued_at__isnull=False).count() == len(CITIES),
               timeout=30, what="every run to be queued")  # fmt: skip
    topology.worker_start("worker-1")
    wait_until(lambda: runs.filter(status=ActionRun.Status.RUNNING).count() == len(CITIES),
               timeout=30, what="the worker to claim every run")  # fmt: skip
    # Each task calls the API for its first run and hangs there: fewer calls than claimed
    # runs means a task holds several.
    assert len(SlowOnceApi.hits) < len(CITIES)
    return chats, runs


def answered_each_exactly_once(chats, cities: list[str], runs, *, timeout: float) -> None:
    for chat, city in zip(chats, cities, strict=True):
        receive_until(chat, bot_says(f"It is 21° in {city}."), timeout=timeout)
    with pytest.raises(AssertionError, match="no matching frame"):
        receive_until(chats[0], bot_says("It is"), timeout=2)  # nothing a second time
    assert sorted(runs.values_list("status", "attempts")) == [
        (ActionRun.Status.SUCCEEDED, 2)
    ] * len(cities)
    for run in runs:
        assert Message.objects.filter(reply_to=run.message, sender_kind="bot").count() == 1


def test_a_worker_killed_while_its_tasks_hold_several_runs_answers_each_exactly_once(
    topology, held_weather_api
):
    """A task takes along the runs waiting behind it: a crash of the whole worker loses
    them all at once. Nothing delivers its tasks again, and the run timeout is out of
    reach here: the sweeper sees the worker's heartbeats stop and takes every run back."""
    weather_command(held_weather_api)
    with ExitStack() as stack:
        chats, runs = runs_claimed_by_hanging_tasks(topology, stack, heartbeat_seconds=1)
        topology.worker.stop(sig=signal.SIGKILL)
        HeldApi.released.set()
        topology.worker_start("worker-2")

        answered_each_exactly_once(chats, CITIES, runs, timeout=30)
    assert "runs of worker processes that stopped beating" in topology.worker.log()


def test_runs_of_a_pool_process_that_died_are_taken_back_by_their_redelivered_task(
    topology, held_weather_api
):
    """The pool process dies, the worker lives: the worker hands the task back to the
    broker, and its next delivery takes back the runs at once, not after the sweeper's
    timeout nor three missed heartbeats (both set out of reach here)."""
    weather_command(held_weather_api)
    with ExitStack() as stack:
        chats, runs = runs_claimed_by_hanging_tasks(topology, stack, heartbeat_seconds=3600)
        pool = topology.worker.children()
        assert len(pool) == 2, pool
        for pid in pool:
            os.kill(pid, signal.SIGKILL)
        HeldApi.released.set()

        answered_each_exactly_once(chats, CITIES, runs, timeout=30)
    assert "WorkerLostError" in topology.worker.log()
    assert "runs its earlier delivery left" in topology.worker.log()


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
