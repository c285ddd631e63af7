"""A worker's life as an operator sees it: its pool processes start beating at once, and
idle, it and beat keep their logs for what an operator needs."""

import os
import signal
import time

import pytest

from actions.models import WorkerHeartbeat
from botsite.tests.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.fixture
def services_env(services_env):
    # A pool process beats at its start and then not again within a test: a first beat
    # that fails shows as a process with no heartbeat row at all.
    return {**services_env, "WORKER_HEARTBEAT_SECONDS": "3600"}


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
    assert all(len(lines) <= 2 for lines in logged.values()), logged
