"""The Celery app: settings from Django (`CELERY_*`), tasks autodiscovered from the apps."""

import os

from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botsite.settings")

app = Celery("botsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

#: Set by the embedded run, which hosts its worker and beat in the server's own process.
EMBEDDED_FLAG = "BOTSITE_EMBEDDED_PROCESS"


def _refuse_in_process_broker(**_: object) -> None:
    # A separately started worker or beat on the in-memory broker would never see a task
    # from the web process: fail loudly instead of idling.
    if app.conf.broker_url.startswith("memory://") and not os.environ.get(EMBEDDED_FLAG):
        raise SystemExit(
            "The memory:// broker only works inside `manage.py runembedded` (make run). "
            "Set REDIS_URL to run celery worker or celery beat as separate processes."
        )


worker_init.connect(_refuse_in_process_broker, weak=False)
beat_init.connect(_refuse_in_process_broker, weak=False)


def _database_connections_tidy(**_: object) -> None:
    # What Django does around each request: a task gives its connection back to the pool
    # (CONN_MAX_AGE is 0) and never starts on a broken one. Celery's fixup would close the
    # whole pool instead, which settings.CELERY_DB_REUSE_MAX turns off.
    from django.db import close_old_connections

    close_old_connections()


task_prerun.connect(_database_connections_tidy, weak=False)
task_postrun.connect(_database_connections_tidy, weak=False)


def _realtime_bridge_start(**_: object) -> None:
    # Each prefork child broadcasts replies from plain threads, task after task: one
    # long-lived event loop keeps its channel-layer connections (conversations.realtime).
    from conversations import realtime

    realtime.sync_bridge_start()


worker_process_init.connect(_realtime_bridge_start, weak=False)


def _heartbeat_start(**_: object) -> None:
    # Each pool process beats for itself: a whole worker that dies goes silent, and the
    # sweeper takes its runs back without waiting for the run timeout (actions.liveness).
    from actions import liveness

    liveness.heartbeat_start()


def _heartbeat_start_after_fixup(**_: object) -> None:
    # Celery's Django fixup connects its own worker_process_init receiver at worker_init,
    # and that receiver closes the new process's connection pool. Receivers run in the
    # order they were connected: the heartbeat thread, started before it, had its first
    # beat's pool closed under it, and that beat timed out (10 s, one of three misses).
    worker_process_init.connect(_heartbeat_start, weak=False)


worker_init.connect(_heartbeat_start_after_fixup, weak=False)


# A worker stopping hands back the tasks it holds for later, and its prefork pool (the
# default) does not stall (botsite.prefork); `-P threads` and the others stay Celery's.
app.conf.worker_consumer = "botsite.celery_worker:Consumer"
app.conf.worker_pool = "botsite.prefork:TaskPool"
