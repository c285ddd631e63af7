"""The production topology: daphne, `celery worker` and `celery beat` as separate processes
on PostgreSQL and Redis, talked to as a client would."""

import os
import sys
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
import redis
from django.db import connection

from actions.models import Action, ActionRun
from botsite.demo import demo_install
from botsite.tests.processes import (
    bot_says,
    chat_socket,
    free_port,
    http_ok,
    receive_until,
    start,
    wait_until,
)
from botsite.tests.subprocess_env import clean_env
from conversations.models import Room

pytestmark = [pytest.mark.e2e, pytest.mark.services]

E2E_REDIS_DB = 14  # its own Redis database, flushed first, so no stray task from elsewhere


@pytest.fixture
def services_env():
    """Environment for the processes: this test's PostgreSQL database and a clean Redis db."""
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        reason = "needs DATABASE_URL (PostgreSQL) and REDIS_URL; CI's second pass sets both"
        if os.environ.get("BOTSITE_REQUIRE_SERVICES"):
            pytest.fail(reason)
        pytest.skip(reason)
    if connection.vendor != "postgresql":
        pytest.fail(f"DATABASE_URL must point at PostgreSQL, not {connection.vendor}")
    db = connection.settings_dict
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    database_url = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    parts = urlsplit(os.environ["REDIS_URL"])
    redis_url = urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))
    try:
        redis.Redis.from_url(redis_url, socket_timeout=5).flushdb()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {redis_url} cannot be reached: {error}")
    return clean_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEBUG="false",
        SECRET_KEY="e2e-Xq7Lm2Vt9Rb4Nc8Kw1Zp6Hs3Jd5Gf0Ya7Ue2Io9Pl4Mk8Nj1Bh6",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        ACTION_RUN_SWEEP_SECONDS="1",
        CELERY_WORKER_HIJACK_ROOT_LOGGER="false",
    )


@pytest.fixture
def topology(transactional_db, services_env, tmp_path):
    demo_install()
    port = free_port()
    celery = [sys.executable, "-m", "celery", "-A", "botsite"]
    processes = [
        start(
            "daphne",
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "botsite.asgi:application",
            ],
            services_env,
            tmp_path,
        ),
        start("worker", [*celery, "worker", "-l", "INFO", "-c", "2"], services_env, tmp_path),
        start(
            "beat",
            [*celery, "beat", "-l", "INFO", "-s", str(tmp_path / "beat")],
            services_env,
            tmp_path,
        ),
    ]
    try:
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/readyz"),
            timeout=60,
            what="daphne to be ready (database, Redis, broker)",
            watch=processes,
        )
        wait_until(
            lambda: "ready." in processes[1].log(),
            timeout=60,
            what="the Celery worker to be ready",
            watch=processes,
        )
        yield port, processes
    finally:
        for process in processes:
            process.stop(timeout=30)


def test_separate_processes_answer_a_chat_through_the_worker_and_beat_fires(topology):
    port, (_daphne, worker, beat) = topology

    with chat_socket(port) as chat:
        chat.send('{"type": "message", "text": "!help"}')
        reply = receive_until(chat, bot_says("!ping — Answers pong."), timeout=30)
        assert reply["sender"] == {"kind": "bot", "name": "Demo bot"}
        assert "action_run_execute" in worker.log(), "the reply came from the worker process"

        chat.send('{"type": "message", "text": "get me the three most recent posts about golang"}')
        reply = receive_until(chat, bot_says("Range-over-func iterators in Go"), timeout=30)
        assert reply["text"].splitlines()[1] == "• Generics in Go, two years on"

        # A run whose broker message was lost reaches the worker through beat's sweeper.
        room = Room.objects.get(bot__slug="demo")
        ping = Action.objects.get(bot__slug="demo", name="ping")
        lost = ActionRun.objects.create(bot=room.bot, room=room, action=ping, action_name="ping")
        receive_until(chat, bot_says("pong"), timeout=45)

    lost.refresh_from_db()
    assert lost.status == ActionRun.Status.SUCCEEDED
    assert "actions.tasks.action_runs_sweep" in beat.log()


def test_the_rest_endpoint_waits_for_the_workers_reply(topology, django_user_model):
    port, _ = topology
    django_user_model.objects.create_superuser("integrator", password="e2e-password-1")

    answer = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/bots/demo/messages/",
        json={"text": "!latest-post", "participant": "crm-7", "wait": 20},
        auth=("integrator", "e2e-password-1"),
        timeout=30,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["replies"][0]["text"] == "• Schedules that survive restarts"
