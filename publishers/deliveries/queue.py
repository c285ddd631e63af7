"""Deliveries handed to the broker: at once, after a throttle, again by the sweeper or
by staff (`deliveries_retry`); the shared throttles of each kind of delivery."""

import logging
import random
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from botsite.queue import task_send
from conversations.ports import TokenBucketsInCache
from publishers.models import Delivery, Post, Subscription

logger = logging.getLogger(__name__)


#: Retries due within this go to the broker with a countdown; later ones to the sweeper.
COUNTDOWN_MAX_SECONDS = 15 * 60


#: The tasks this module sends (`publishers/tasks.py`), by name (`botsite.queue`).
POST_DELIVERIES_SEND_TASK = "publishers.tasks.post_deliveries_send"


DELIVERY_SEND_TASK = "publishers.tasks.delivery_send"


def post_deliveries_enqueue(post_id: int, countdown: float | None = None) -> None:
    task_send(POST_DELIVERIES_SEND_TASK, post_id, countdown=countdown)


def delivery_enqueue(delivery_id: int, countdown: float | None = None) -> None:
    task_send(DELIVERY_SEND_TASK, delivery_id, countdown=countdown)


def throttle_allows(kind: str) -> bool:
    """Take one token of the destination kind's shared bucket, if that kind is limited."""
    per_second = settings.PUBLISHING_RATE_LIMITS.get(kind, 0)
    if not per_second:
        return True
    return TokenBucketsInCache().take(
        f"publishing:{kind}", capacity=max(1, int(per_second)), per_second=float(per_second)
    )


def throttle_wait(kind: str) -> float:
    """How long a throttled delivery waits: spread over the time the kind's backlog needs
    at its rate, so a broadcast's tasks come back about as fast as tokens refill instead of
    all of them retrying at once."""
    per_second: float = settings.PUBLISHING_RATE_LIMITS[kind]
    backlog = Delivery.objects.filter(
        status=Delivery.Status.PENDING, subscription__destination=kind
    )[:100_000].count()
    spread = random.uniform(0, backlog / per_second)  # noqa: S311 (jitter, not a secret)
    return min(COUNTDOWN_MAX_SECONDS, 1.0 / per_second + spread)


def deliveries_retry(*, deliveries: QuerySet[Delivery]) -> int:
    """Staff or API: send failed or dead deliveries again now; returns how many."""
    ids = list(
        deliveries.filter(status__in=[Delivery.Status.FAILED, Delivery.Status.DEAD]).values_list(
            "pk", flat=True
        )
    )
    Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.PENDING, next_attempt_at=None)

    def enqueue_all() -> None:
        for pk in ids:
            delivery_enqueue(pk)

    transaction.on_commit(enqueue_all)
    return len(ids)


def deliveries_sweep() -> int:
    """Hand on what was left behind: attempts whose worker died, deliveries whose task was
    lost, retries past due. Returns how many deliveries or posts were enqueued."""
    now = timezone.now()
    stuck_since = now - timedelta(seconds=settings.DELIVERY_STUCK_SECONDS)
    Delivery.objects.filter(
        status=Delivery.Status.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.DELIVERY_TIMEOUT_SECONDS),
    ).update(status=Delivery.Status.FAILED, next_attempt_at=now, last_error="worker lost")
    is_due_long_ago = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=stuck_since)
    open_rows = Delivery.objects.filter(
        Q(status=Delivery.Status.PENDING, created_at__lt=stuck_since) & is_due_long_ago
        | Q(status=Delivery.Status.FAILED, next_attempt_at__lte=stuck_since)
    )
    posts = list(
        open_rows.filter(
            status=Delivery.Status.PENDING, subscription__destination=Subscription.Destination.ROOM
        )
        .order_by("post_id")  # not the model's ordering, which would make DISTINCT per row
        .values_list("post_id", flat=True)
        .distinct()[:100]
    )
    # Posts dated to go out before the next sweep: handed on now, with their time as ETA.
    scheduled = list(
        Post.objects.filter(
            published_at__gt=now,
            published_at__lte=now + timedelta(seconds=settings.DELIVERY_SWEEP_SECONDS + 1),
            deliveries__status=Delivery.Status.PENDING,
        )
        .order_by("pk")
        .values_list("pk", "published_at")
        .distinct()[:100]
    )
    for post_id, published_at in scheduled:
        # Not None: `published_at__gt` leaves NULL out.
        countdown = (cast(datetime, published_at) - now).total_seconds()
        post_deliveries_enqueue(post_id, countdown=countdown)
    for post_id in posts:
        post_deliveries_enqueue(post_id)
    singles = list(
        open_rows.exclude(
            status=Delivery.Status.PENDING, subscription__destination=Subscription.Destination.ROOM
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for delivery_id in singles:
        delivery_enqueue(delivery_id)
    if posts or singles or scheduled:
        logger.info(
            "sweep: %d posts and %d deliveries enqueued again, %d scheduled posts handed on",
            len(posts),
            len(singles),
            len(scheduled),
        )
    return len(posts) + len(singles) + len(scheduled)
