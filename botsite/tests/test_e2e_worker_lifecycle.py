"""A worker's life as an operator sees it: its pool processes start beating at once; idle,
it and beat keep their logs for what an operator needs; stopping, it hands back the tasks
it holds for later."""

import os
import signal
import sys
import time

import pytest
from celery import Celery
from django.conf import settings

from actions.models import WorkerHeartbeat
from botsite.tests.processes import bot_says, chat_socket, receive_until, start, wait_until
from botsite.tests.test_e2e_engine import weather_command
from botsite.tests.weather_api import HeldApi, SlowOnceApi, api_serve
from conversations.models import Message

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.fixture
def services_env(services_env):
    # A pool process beats at its start and then not again within a test: a first beat
    # that fails shows as a process with no heartbeat row at all.
    # The sweeper's limits and the outbound call's out of reach: a run held by a slow API
    # is neither taken back nor given up meanwhile, and no due run is enqueued anew.
    return {
        **services_env,
        "WORKER_HEARTBEAT_SECONDS": "3600",
        "ACTION_RUN_TIMEOUT_SECONDS": "3600",
        "ACTION_RUN_STUCK_SECONDS": "3600",
        "HTTP_TIMEOUT_SECONDS": "150",
    }


def beating_pids() -> set[int]:
    """The pids in the heartbeat rows' process names ("host:pid:random")."""
    return {
        int(name.split(":")[1])
        for name in WorkerHeartbeat.objects.values_list("process", flat=True)
    }


def test_each_new_pool_process_writes_its_first_heartbeat(topology):
    worker = topology.worker
    pool = set(worker.children())
    assert len(pool) == 2, pool
    wait_until(
        lambda: pool <= beating_pids(),
        timeout=30,
        what="both pool processes to beat",
        watch=[worker],
    )

    # A pool process that died is replaced, and its successor beats too.
    dead = pool.pop()
    os.kill(dead, signal.SIGKILL)
    replaced = wait_until(
        lambda: set(worker.children()) - pool - {dead},
        timeout=30,
        what="the worker to replace its pool process",
        watch=[worker],
    )
    wait_until(
        lambda: replaced <= beating_pids(),
        timeout=30,
        what="the new process to beat",
        watch=[worker],
    )
    assert "not written" not in worker.log()


def test_an_idle_worker_and_beat_log_next_to_nothing(topology):
    beat = next(p for p in topology.processes if p.name == "beat")
    wait_until(
        lambda: "beat: Starting..." in beat.log(), timeout=30, what="beat to start", watch=[beat]
    )
    before = {p.name: p.log().count("\n") for p in (topology.worker, beat)}

    time.sleep(10)  # idle: events scans every 2 s and action-run sweeps every second

    logged = {p.name: p.log().splitlines()[before[p.name] :] for p in (topology.worker, beat)}
    # Some 15 sweeps and scans ran meanwhile: 2 lines each in the worker, 1 in beat.
    periodic = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    about_them = [line for lines in logged.values() for line in lines
                  if any(task in line for task in periodic)]  # fmt: skip
    assert about_them == []
    assert all(len(lines) <= 3 for lines in logged.values()), logged


class LongHeldApi(HeldApi):
    """`HeldApi` that holds its requests for up to two minutes."""

    def do_GET(self) -> None:
        SlowOnceApi.hits.append(time.monotonic())
        HeldApi.released.wait(timeout=120)
        self.answer()


@pytest.fixture
def held_weather_api(weather_port):
    yield from api_serve(LongHeldApi, weather_port)


def test_a_reminder_held_by_a_worker_that_is_stopping_fires_on_time_from_another(
    topology, held_weather_api
):
    """SIGTERM: the worker finishes its running tasks first. A reminder it held for later
    went back to the broker only when it exited, and fired that much late."""
    weather_command(held_weather_api)
    stopping = topology.worker
    with chat_socket(topology.port) as asking, chat_socket(topology.port) as reminded:
        asking.send('{"type": "message", "text": "!weather Oslo"}')
        wait_until(lambda: SlowOnceApi.hits, timeout=30, what="the action to call the API")
        reminded.send('{"type": "message", "text": "remind me to stretch in 20 seconds"}')
        receive_until(reminded, bot_says("OK, in 20 seconds."), timeout=30)
        held = "Task actions.tasks.action_run_execute["
        wait_until(lambda: held in stopping.log(), timeout=30,
                   what="the worker to hold the reminder", watch=[stopping])  # fmt: skip
        os.kill(stopping.popen.pid, signal.SIGTERM)  # as `docker stop` does: the main process
        wait_until(lambda: "Warm shutdown" in stopping.log(), timeout=30, what="shutdown")
        # Started only now, so that it can only get the reminder from the broker again.
        topology.worker_start("worker-2")

        receive_until(reminded, bot_says("⏰"), timeout=90)
        # On time: the stopping worker still waits for its running task (the API holds it).
        assert stopping.popen.poll() is None
        assert not HeldApi.released.is_set()
        HeldApi.released.set()
        receive_until(asking, bot_says("It is 21° in Oslo."), timeout=30)

    assert stopping.popen.wait(timeout=30) == 0
    assert "handed 1 scheduled tasks back to the broker" in stopping.log()
    assert Message.objects.filter(text__startswith="⏰").count() == 1


def test_a_worker_stopped_just_after_handing_a_task_to_its_pool_exits_at_once(
    services_env, transactional_db, tmp_path
):
    """The pool forgets, at a warm shutdown, a task it has written to a pool process that
    has not taken it yet (the broker delivers it again); the process runs it all the same
    and then waited 30 s at exit for someone to read its result, holding up the worker.
    The pool process is held (SIGSTOP) to open that moment wide."""
    env = {**services_env, "LOG_HOUSEKEEPING_TASKS": "true"}
    celery = [sys.executable, "-m", "celery", "-A", "botsite"]
    # DEBUG: the log says when the pool begins to stop.
    worker = start("worker", [*celery, "worker", "-l", "DEBUG", "-c", "1"], env, tmp_path)
    try:
        wait_until(lambda: "ready." in worker.log(), timeout=60, what="the worker to be ready",
                   watch=[worker])  # fmt: skip
        (pool_process,) = worker.children()
        os.kill(pool_process, signal.SIGSTOP)
        sender = Celery(broker=env["REDIS_URL"])
        sender.conf.broker_transport = settings.CELERY_BROKER_TRANSPORT
        sender.send_task("integrations.tasks.events_scan")
        wait_until(lambda: "] received" in worker.log(), timeout=30,
                   what="the worker to receive the task", watch=[worker])  # fmt: skip

        os.kill(worker.popen.pid, signal.SIGINT)  # Ctrl-C
        wait_until(lambda: "Worker: Stopping Pool" in worker.log(), timeout=30,
                   what="the pool to begin stopping", watch=[worker])  # fmt: skip
        os.kill(pool_process, signal.SIGCONT)  # it takes the task only now, and runs it
        worker.stop(timeout=15)  # well within the pool process's 30 s, on a loaded machine too
    finally:
        worker.stop(sig=signal.SIGKILL)
