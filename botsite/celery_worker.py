"""The worker's consumer: Celery's, plus one thing a warm shutdown must do first."""

import logging
import time

from celery.worker import consumer, state

logger = logging.getLogger(__name__)


class Consumer(consumer.Consumer):
    def on_close(self) -> None:
        # A warm shutdown sets its exit code there (0 too), a lost connection nothing.
        if state.should_stop is not None and state.should_stop is not False:
            scheduled_tasks_hand_back(self)
        super().on_close()


def scheduled_tasks_hand_back(worker_consumer: consumer.Consumer) -> int:
    """Give back to the broker, at once, the tasks this worker holds for later (an ETA or
    a countdown: reminders, retries), so that another worker runs them on time; returns
    how many.

    A stopping worker first waits for its running tasks, and a task it held for later
    went back to the broker only when it exited: it fired late by up to the longest
    running task. Celery's own `on_close` then forgets them (it cancels their timers).
    Requeued, a task may meet its run already done elsewhere: runs are claimed once.
    """
    scheduled = list(state.scheduled_requests)
    for request in scheduled:
        entry = request._eta_timer_entry
        if entry is not None and worker_consumer.timer is not None:
            worker_consumer.timer.cancel(entry)
    if scheduled:
        # On Redis the consumer's last BRPOP, sent before the shutdown, still waits on the
        # server, and would take the first task pushed back: nobody reads it any more, so
        # the task came back only when this worker exited. It expires within this.
        time.sleep(getattr(worker_consumer.connection.transport, "brpop_timeout", 0) + 0.2)
    for request in scheduled:
        request.reject(requeue=True)
    handed_back = len(scheduled)
    if handed_back:
        logger.info("warm shutdown: handed %d scheduled tasks back to the broker", handed_back)
    return handed_back
