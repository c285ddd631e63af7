"""Which worker processes are alive.

Each prefork pool process writes a heartbeat row every `WORKER_HEARTBEAT_SECONDS` from a
thread of its own, and the runs it claims carry its name. When a whole worker dies (killed,
out of memory, its host gone), nothing delivers its tasks again before the broker's
visibility timeout; the sweeper sees the silent heartbeat instead and takes the runs back
within three beats, not after `ACTION_RUN_TIMEOUT_SECONDS`. A process that does not beat
(the embedded run's thread pool, a test) claims runs without a name, and only the timeout
takes those back.
"""

import logging
import os
import secrets
import socket
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now

from actions.models import ActionRun, WorkerHeartbeat

logger = logging.getLogger(__name__)

#: Heartbeat rows of processes silent this long are deleted by the sweeper.
HEARTBEAT_FORGET_AFTER = timedelta(days=1)

_process: str = ""


def process_name() -> str:
    """This process's name in heartbeats, or "" when it does not beat."""
    return _process


def heartbeat_start() -> str:
    """Beat for this process from now on, on a daemon thread: at once, then every
    `WORKER_HEARTBEAT_SECONDS`. Returns the process's name."""
    global _process
    # The random part keeps a restarted process apart from the dead one it replaces: a
    # container restarted in place has the same host name and often the same pids.
    _process = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    threading.Thread(target=_beat_forever, args=(_process,), name="heartbeat", daemon=True).start()
    return _process


def _beat_forever(name: str) -> None:
    # Runs claimed before the first beat lands are safe: the sweeper only takes back runs
    # claimed more than three beats ago.
    while True:
        try:
            heartbeat_write(name)
        except Exception:
            # Whatever failed, the thread goes on: a thread that died would make a live
            # process look dead. A missed beat or two is tolerated; three are not.
            logger.warning("heartbeat of %s not written", name, exc_info=True)
        finally:
            connection.close()  # the thread's own connection, back to the pool between beats
        time.sleep(settings.WORKER_HEARTBEAT_SECONDS)


def heartbeat_write(name: str) -> None:
    # Beats are stamped and judged by the database's clock: worker hosts' clocks may be
    # skewed against the sweeper's by more than three beats.
    WorkerHeartbeat.objects.update_or_create(process=name, defaults={"beat_at": Now()})


def silent_since() -> CombinedExpression:
    """Three beats ago, by the database's clock (an expression for querysets)."""
    return Now() - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS)


def runs_of_silent_processes() -> QuerySet[ActionRun]:
    """Running runs claimed by a process whose heartbeat has stopped."""
    since = silent_since()
    beating = WorkerHeartbeat.objects.filter(
        process=OuterRef("claimed_by_process"), beat_at__gte=since
    )
    return (
        ActionRun.objects.filter(status=ActionRun.Status.RUNNING, started_at__lt=since)
        .exclude(claimed_by_process="")
        .exclude(Exists(beating))
    )


def heartbeats_forget() -> int:
    """Delete the rows of processes long gone; returns how many."""
    deleted, _ = WorkerHeartbeat.objects.filter(beat_at__lt=Now() - HEARTBEAT_FORGET_AFTER).delete()
    return deleted
