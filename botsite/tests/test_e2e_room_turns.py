"""Runs of one room, slow ones among them, through real workers: each starts when its
room's turn comes, however many wait, with no help from the sweeper."""

import json

import pytest

from actions.models import ActionRun
from botsite.tests.processes import chat_socket, receive_until
from botsite.tests.test_e2e_engine import weather_command
from botsite.tests.weather_api import SlowApi, api_serve

pytestmark = [pytest.mark.e2e, pytest.mark.services]

CITIES = ["Oslo", "Lima", "Pune"]


@pytest.fixture
def services_env(services_env):
    # The sweeper out of reach: a run whose task gave up waiting would never be answered.
    return {**services_env, "ACTION_RUN_SWEEP_SECONDS": "3600", "ACTION_RUN_STUCK_SECONDS": "3600"}


@pytest.fixture
def slow_weather_api(weather_port):
    yield from api_serve(SlowApi, weather_port)


def test_slow_runs_of_one_room_each_start_when_the_previous_finishes_on_two_workers(
    topology, slow_weather_api
):
    weather_command(slow_weather_api)
    topology.worker_start("worker-2")

    with chat_socket(topology.port) as chat:
        for text in [*(f"!weather {city}" for city in CITIES), "!ping"]:
            chat.send(json.dumps({"type": "message", "text": text}))
        answers: list[str] = []

        def answered_all(frame: dict) -> bool:
            if frame.get("type") == "message" and frame["sender"]["kind"] == "bot":
                answers.append(frame["text"])
            return len(answers) == len(CITIES) + 1

        # The old retries gave up after about 3 s of waiting: the third city then waited
        # for the sweeper, an hour away here. 60 s is far beyond 4 runs of 3 s.
        receive_until(chat, answered_all, timeout=60)

    assert answers == [*(f"It is 21° in {city}." for city in CITIES), "pong"]
    # One after the other, never two at once, though four pool processes were free.
    for (_, ended), (began, _) in zip(SlowApi.calls, SlowApi.calls[1:], strict=False):
        assert began >= ended
    assert len(SlowApi.calls) == len(CITIES)
    assert set(ActionRun.objects.values_list("status", "attempts")) == {("succeeded", 1)}
    for worker in (p for p in topology.processes if p.name.startswith("worker")):
        assert "MaxRetriesExceededError" not in worker.log()
        assert "Retry in" not in worker.log(), "no run's task waited on retries"
