"""Thin Celery tasks: each wraps the service of the same name and owns its retry policy."""

from celery import Task, shared_task
from django.db import OperationalError

from publishers import deliveries, services

# A killed worker's task comes back (acks_late); a database hiccup is retried with backoff,
# five times. A throttled or failed send is retried as often as its row says: the row holds
# the attempts. Celery reads `retry(max_retries=None)` as "the task's limit", so the task
# has none and only the database retries carry one.
SENDING = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_kwargs": {"max_retries": 5},
    "max_retries": None,
}


@shared_task(acks_late=True, reject_on_worker_lost=True)
def publisher_run(publisher_id: int) -> None:
    services.publisher_run(publisher_id=publisher_id)


@shared_task(**SENDING)
def post_deliveries_send(self: Task, post_id: int) -> None:
    try:
        deliveries.post_deliveries_send(post_id=post_id)
    except deliveries.DeliveryRetry as retry:  # throttled: carry on shortly
        raise self.retry(countdown=retry.countdown) from retry


@shared_task(**SENDING)
def delivery_send(self: Task, delivery_id: int) -> None:
    try:
        deliveries.delivery_send(delivery_id=delivery_id)
    except deliveries.DeliveryRetry as retry:
        # The row holds attempts and the next try; the broker only keeps the time.
        raise self.retry(countdown=retry.countdown) from retry


@shared_task
def deliveries_sweep() -> int:
    services.publisher_schedules_orphans_delete()
    return deliveries.deliveries_sweep()
