"""A prefork Celery worker keeps its PostgreSQL connections between tasks."""

import time

import pytest
from django.db import connection

pytestmark = [pytest.mark.e2e, pytest.mark.services]


def _sessions_opened() -> int:
    """Sessions ever opened to this test database (PostgreSQL's cumulative statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_tasks_reuse_the_workers_pooled_connections(topology):
    def ask(n: int) -> None:
        answer = topology.message_post("!latest-post", f"reader-{n}", wait=10)
        assert answer.status_code == 200, answer.text  # answered by the worker in time

    ask(0)  # the worker's processes have connected once
    time.sleep(1.5)  # backends report their statistics at most once a second
    before = _sessions_opened()
    for n in range(1, 13):
        ask(n)
    time.sleep(1.5)

    # Celery's Django fixup closed a prefork process's whole pool at every task boundary,
    # so each of these 12 tasks connected anew (and beat's sweeps on top of them).
    assert _sessions_opened() - before < 4
