"""A prefork Celery worker keeps its PostgreSQL and Redis connections between tasks."""

import time

import pytest
import redis
from django.conf import settings
from django.db import connection

from botsite.tests.processes import bot_says, chat_socket, receive_until

pytestmark = [pytest.mark.e2e, pytest.mark.services]


def _sessions_opened() -> int:
    """Sessions ever opened to this test database (PostgreSQL's cumulative statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _redis_connections_opened() -> int:
    return redis.Redis.from_url(settings.REDIS_URL).info("stats")["total_connections_received"]


def _ask(topology, n: int) -> None:
    answer = topology.message_post("!latest-post", f"reader-{n}", wait=10)
    assert answer.status_code == 200, answer.text  # answered by the worker in time


def test_tasks_reuse_the_workers_pooled_connections(topology):
    _ask(topology, 0)  # the worker's processes have connected once
    time.sleep(1.5)  # backends report their statistics at most once a second
    before = _sessions_opened()
    for n in range(1, 13):
        _ask(topology, n)
    time.sleep(1.5)

    # Celery's Django fixup closed a prefork process's whole pool at every task boundary,
    # so each of these 12 tasks connected anew (and beat's sweeps on top of them).
    assert _sessions_opened() - before < 4


def test_replies_are_broadcast_over_the_workers_open_redis_connection(topology):
    def ask() -> None:
        # A socket per question (each has its own flood allowance); the server keeps its
        # Redis connections across sockets, so new ones can only be the worker's (the API's
        # throttling, per request thread, would add its own).
        with chat_socket(topology.port) as chat:
            chat.send('{"type": "message", "text": "!latest-post"}')
            receive_until(chat, bot_says("Schedules that survive restarts"), timeout=15)

    for _ in range(2):  # both prefork processes may have broadcast once
        ask()
    before = _redis_connections_opened()
    for _ in range(12):
        ask()

    # `async_to_sync` from a plain thread made a new event loop per call, and channels-redis
    # a new connection per loop: each of these 12 replies connected to Redis anew.
    assert _redis_connections_opened() - before < 4
