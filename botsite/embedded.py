"""The embedded run: a Celery worker, Celery beat and the bridge in threads of the server's
process.

Used only by `manage.py runembedded` (`make run`): one process, no outside services.
Production runs `celery worker` and `celery beat` as processes of their own.
"""

import asyncio
import logging
import socket
import threading

from celery import Celery
from celery.beat import EmbeddedService

logger = logging.getLogger(__name__)


def worker_start(app: Celery, *, concurrency: int) -> threading.Thread:
    """Start a worker with a thread pool, so one slow action does not hold up other users."""
    from actions import liveness

    # A thread pool gets no `worker_process_init`: beat for the process here, so the runs
    # of a process that was killed are taken back soon after the next start.
    liveness.heartbeat_start()
    worker = app.WorkController(
        hostname=f"embedded@{socket.gethostname()}",
        pool_cls="threads",
        concurrency=concurrency,
        # One worker in one process: nobody to exchange heartbeats or state with.
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        loglevel=logging.INFO,
    )
    thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
    thread.start()
    return thread


def bridge_start(*, url: str, token: str) -> threading.Thread:
    """Start the bridge (IRC, ...) on an event loop of its own; it reaches the server over
    its socket, as a bridge process does."""
    from bridge.app import Bridge

    def run() -> None:
        asyncio.run(Bridge(url=url, token=token, name=f"embedded@{socket.gethostname()}").run())

    thread = threading.Thread(target=run, name="bridge", daemon=True)
    thread.start()
    return thread


def beat_start(app: Celery) -> threading.Thread:
    """Start beat on the database scheduler (it is ignored unless passed explicitly)."""
    service = EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
    service.start()
    return service
