"""Thin Celery tasks: each wraps the service of the same name."""

from celery import shared_task
from django.db import OperationalError

from integrations import events, services


@shared_task
def events_scan() -> int:
    due = events.events_scan()
    for hook_id in due:
        event_hook_send.delay(hook_id)
    return len(due)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def event_hook_send(hook_id: int) -> int:
    # A retry waits in its row (next_attempt_at); the next scan hands it on.
    return events.event_hook_send(hook_id=hook_id)


@shared_task
def integrations_purge() -> dict[str, int]:
    return services.integrations_purge()
