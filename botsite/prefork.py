"""The worker's prefork pool (Celery's default): Celery's, minus a 30 s stall at a warm
shutdown. Its own module so that the worker's banner still says "prefork"."""

import select

from billiard.pool import TERMINATE, WorkersJoined
from celery.concurrency import asynpool, prefork


class _ResultHandler(asynpool.ResultHandler):
    def on_stop_not_started(self) -> None:
        super().on_stop_not_started()  # reads the processes' results while jobs are pending
        self.outqueues_drain()

    def outqueues_drain(self) -> None:
        """Read what the pool processes still send until every one of them has exited.

        At a warm shutdown the pool forgets the jobs it had written to a process but whose
        acceptance it had not read yet (`AsynPool.flush`: the broker delivers them again).
        The process runs such a job all the same, and before it exits waits up to 30 s
        for its results to be read (billiard's `_ensure_messages_consumed`); Celery's
        handler reads only while jobs are pending, so nobody did. A task that arrived in
        the last milliseconds before Ctrl-C or SIGTERM held the whole worker for 30 s.
        """
        finished: set[int] = set()
        while self._state != TERMINATE:
            outqueues = [fd for fd in self.fileno_to_outq if fd not in finished]
            try:
                readable, _, _ = select.select(outqueues, [], [], 0.1)
            except (OSError, ValueError):  # a pipe closed as its process was cleaned up
                readable = []
            for fd in readable:
                try:
                    self._flush_outqueue(
                        fd, finished.add, self.fileno_to_outq, self.on_state_change
                    )
                except OSError:
                    finished.add(fd)
            try:
                self.join_exited_workers(shutdown=True)
            except WorkersJoined:
                return


class _AsynPool(asynpool.AsynPool):
    ResultHandler = _ResultHandler


class TaskPool(prefork.TaskPool):
    """Celery's prefork pool (the default), minus a 30 s stall at a warm shutdown."""

    Pool = _AsynPool
