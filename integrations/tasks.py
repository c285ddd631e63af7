"""Thin Celery tasks: each wraps the service of the same name."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from integrations import events
from integrations.models import EventDelivery, IdempotencyKey


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
def integrations_purge() -> None:
    now = timezone.now()
    IdempotencyKey.objects.filter(
        created_at__lt=now - timedelta(seconds=settings.IDEMPOTENCY_KEY_SECONDS)
    ).delete()
    EventDelivery.objects.filter(
        status=EventDelivery.Status.SENT, sent_at__lt=now - timedelta(days=7)
    ).delete()
