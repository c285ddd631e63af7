"""Use cases of fan-out: one delivery per post and subscription, sent on workers.

A delivery row is written with its post, in one transaction; a unique constraint makes a
second one impossible. Web chat deliveries are sent in bulk: a batch of rooms gets its
messages and the batch is marked sent in one transaction, then pushed to open sockets (a
socket that was away finds the post in the room's history). Email and webhook deliveries
are sent one task each, claimed with a conditional update, retried with backoff.
"""

import itertools
import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from botsite.queue import task_send
from conversations import realtime
from conversations.models import Message
from conversations.ports import TokenBucketsInCache
from engine.messages import OutboundMessage
from publishers.models import Delivery, Post, Subscription
from webhooks.services import (
    Result,
    webhook_outcome_record,
    webhook_retry_seconds,
    webhook_send,
)

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "publishers.unsubscribe"
#: Retries due within this go to the broker with a countdown; later ones to the sweeper.
COUNTDOWN_MAX_SECONDS = 15 * 60
#: The tasks this module sends (`publishers/tasks.py`), by name (`botsite.queue`).
POST_DELIVERIES_SEND_TASK = "publishers.tasks.post_deliveries_send"
DELIVERY_SEND_TASK = "publishers.tasks.delivery_send"


class DeliveryRetry(Exception):
    """Send again after `countdown` seconds (a retryable failure, or throttled)."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


def post_is_scheduled(post: Post, now: datetime | None = None) -> bool:
    """A post dated in the future is sent at that time, not before."""
    return post.published_at is not None and post.published_at > (now or timezone.now())


def deliveries_create(*, post: Post) -> int:
    """Write one pending delivery per matching active subscription, in the caller's
    transaction, and send them once it commits (a post dated in the future: at that time,
    which each row carries as its `next_attempt_at`); returns how many rows were written.

    One INSERT ... SELECT: no subscription row travels through Python, and ON CONFLICT
    DO NOTHING leaves a delivery that exists alone.
    """
    tags = [tag.lower() for tag in post.tags]
    tag_match = "s.tag = ''" + (f" OR s.tag IN ({', '.join(['%s'] * len(tags))})" if tags else "")
    now = timezone.now()
    not_before = post.published_at if post_is_scheduled(post, now) else None
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Delivery._meta.db_table}
                (post_id, subscription_id, status, attempts, last_error, created_at,
                 next_attempt_at)
            SELECT %s, s.id, %s, 0, '', %s, %s
            FROM {Subscription._meta.db_table} s
            WHERE s.publisher_id = %s AND s.is_active AND ({tag_match})
            ON CONFLICT (post_id, subscription_id) DO NOTHING
            """,  # noqa: S608 (table names from the models; values are parameters)
            [
                post.pk,
                Delivery.Status.PENDING,
                adapt(now),
                adapt(not_before),
                post.publisher_id,
                *tags,
            ],
        )
        created = cursor.rowcount
    post_id = post.pk
    transaction.on_commit(lambda: _post_deliveries_enqueue(post_id))
    return created


def _post_deliveries_enqueue(post_id: int, countdown: float | None = None) -> None:
    task_send(POST_DELIVERIES_SEND_TASK, post_id, countdown=countdown)


def _delivery_enqueue(delivery_id: int, countdown: float | None = None) -> None:
    task_send(DELIVERY_SEND_TASK, delivery_id, countdown=countdown)


def _throttle_allows(kind: str) -> bool:
    """Take one token of the destination kind's shared bucket, if that kind is limited."""
    per_second = settings.PUBLISHING_RATE_LIMITS.get(kind, 0)
    if not per_second:
        return True
    return TokenBucketsInCache().take(
        f"publishing:{kind}", capacity=max(1, int(per_second)), per_second=float(per_second)
    )


def _throttle_wait(kind: str) -> float:
    """How long a throttled delivery waits: spread over the time the kind's backlog needs
    at its rate, so a broadcast's tasks come back about as fast as tokens refill instead of
    all of them retrying at once."""
    per_second = settings.PUBLISHING_RATE_LIMITS[kind]
    backlog = Delivery.objects.filter(
        status=Delivery.Status.PENDING, subscription__destination=kind
    )[:100_000].count()
    spread = random.uniform(0, backlog / per_second)  # noqa: S311 (jitter, not a secret)
    return min(COUNTDOWN_MAX_SECONDS, 1.0 / per_second + spread)


def _post_message_text(post: Post) -> str:
    return "\n".join(
        part for part in [f"📰 {post.publisher.name}: {post.title}", post.link] if part
    )


def post_deliveries_send(*, post_id: int) -> int:
    """Send a post's pending deliveries: web chat ones in batches here, the others each on
    its own task. Safe to run twice or on several workers at once; returns how many web
    chat deliveries this call sent."""
    post = Post.objects.select_related("publisher__bot").filter(pk=post_id).first()
    if post is None:
        return 0
    now = timezone.now()
    if post.published_at is not None and post.published_at > now:  # scheduled
        wait = (post.published_at - now).total_seconds()
        if wait <= COUNTDOWN_MAX_SECONDS:
            raise DeliveryRetry(wait)
        logger.info("post %s: scheduled for %s, sent then", post_id, post.published_at)
        return 0
    sent = 0
    while batch := _room_batch_send(post):
        sent += len(batch)
        realtime.rooms_messages_broadcast(batch)
    others = (
        Delivery.objects.filter(post_id=post_id, status=Delivery.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exclude(subscription__destination=Subscription.Destination.ROOM)
    )
    for delivery_id in others.values_list("pk", flat=True).iterator():
        _delivery_enqueue(delivery_id)
    logger.info("post %s: %d web chat deliveries sent", post_id, sent)
    return sent


def _room_batch_send(post: Post) -> list[OutboundMessage]:
    """Claim a batch of the post's pending web chat deliveries, store a message in each
    room and mark them sent, all in one transaction; return the messages to push."""
    size = settings.PUBLISHING_ROOM_BATCH
    if settings.PUBLISHING_RATE_LIMITS.get(Subscription.Destination.ROOM):
        tokens = (_throttle_allows(Subscription.Destination.ROOM) for _ in range(size))
        size = sum(1 for _ in itertools.takewhile(bool, tokens))  # stop at the first refusal
        if not size:
            raise DeliveryRetry(_throttle_wait(Subscription.Destination.ROOM))
    text = _post_message_text(post)
    with transaction.atomic():
        # Other workers sending the same post skip the rows locked here (PostgreSQL);
        # SQLite's write transactions run one at a time anyway.
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                post_id=post.pk,
                status=Delivery.Status.PENDING,
                subscription__destination=Subscription.Destination.ROOM,
            )
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
            .order_by("pk")
            .values_list("pk", "subscription__room_id")[:size]
        )
        if not rows:
            return []
        now = timezone.now()
        messages = Message.objects.bulk_create(
            Message(room_id=room_id, sender_kind=Message.SenderKind.BOT, text=text)
            for _, room_id in rows
        )
        Delivery.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=Delivery.Status.SENT, sent_at=now, attempts=F("attempts") + 1, last_error=""
        )
    return [
        OutboundMessage(
            id=message.pk,
            room_id=message.room_id,
            sender_kind=Message.SenderKind.BOT,
            sender_name=post.publisher.bot.name,
            text=text,
            html="",
            created_at=message.created_at.isoformat(),
        )
        for message in messages
    ]


def delivery_send(*, delivery_id: int) -> None:
    """Make one attempt at a delivery that is due: claim it, send it, record the outcome.

    Raises `DeliveryRetry` when it should be tried again (or the kind is throttled).
    """
    row = Delivery.objects.filter(pk=delivery_id).values("subscription__destination").first()
    if row is None:
        return
    kind = row["subscription__destination"]
    now = timezone.now()
    if not _throttle_allows(kind):
        wait = _throttle_wait(kind)
        # Marked, so the sweeper knows a task is coming back for it and leaves it alone.
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).update(
            next_attempt_at=now + timedelta(seconds=wait)
        )
        raise DeliveryRetry(wait)
    claimed = (
        Delivery.objects.filter(
            pk=delivery_id, status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED]
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=Delivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        due = Delivery.objects.filter(
            pk=delivery_id,
            status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED],
            next_attempt_at__gt=now,
        ).values_list("next_attempt_at", flat=True)
        if due:  # the broker brought it back a moment early
            early = (due[0] - now).total_seconds()
            if early <= 5:
                raise DeliveryRetry(early)
        logger.info("delivery %s: not due or taken, nothing to do", delivery_id)
        return
    delivery = Delivery.objects.select_related(
        "post__publisher__bot", "subscription__room", "subscription__endpoint"
    ).get(pk=delivery_id)
    if kind == Subscription.Destination.ROOM:
        _room_send(delivery)
    elif kind == Subscription.Destination.EMAIL:
        _email_send(delivery)
    else:
        _webhook_send(delivery)


def _owned(delivery: Delivery) -> "Q":
    # Only the attempt that claimed the row may finish it; a sweeper may have handed it on.
    return Q(pk=delivery.pk, status=Delivery.Status.SENDING, attempts=delivery.attempts)


def _room_send(delivery: Delivery) -> None:
    text = _post_message_text(delivery.post)
    with transaction.atomic():
        if not Delivery.objects.filter(_owned(delivery)).update(
            status=Delivery.Status.SENT, sent_at=timezone.now(), last_error=""
        ):
            return
        message = Message.objects.create(
            room_id=delivery.subscription.room_id, sender_kind=Message.SenderKind.BOT, text=text
        )
    realtime.message_broadcast(
        OutboundMessage(
            id=message.pk,
            room_id=message.room_id,
            sender_kind=message.sender_kind,
            sender_name=delivery.post.publisher.bot.name,
            text=text,
            html="",
            created_at=message.created_at.isoformat(),
        )
    )


def unsubscribe_url(subscription: Subscription) -> str:
    token = signing.dumps(subscription.pk, salt=UNSUBSCRIBE_SALT, compress=True)
    return f"{settings.SITE_URL.rstrip('/')}/publishing/unsubscribe/{token}/"


def _email_send(delivery: Delivery) -> None:
    post, subscription = delivery.post, delivery.subscription
    leave = unsubscribe_url(subscription)
    body = "\n\n".join(
        part
        for part in [post.title, post.body, post.link, f"Unsubscribe with one click: {leave}"]
        if part
    )
    email = EmailMultiAlternatives(
        subject=f"{post.publisher.name}: {post.title}",
        body=body,
        to=[subscription.email],
        headers={
            # RFC 8058 one-click unsubscribe: mail clients POST to the link.
            "List-Unsubscribe": f"<{leave}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Botsite-Delivery": str(delivery.pk),
        },
    )
    try:
        email.send()
    except Exception as error:  # SMTP or backend trouble: worth another try
        logger.warning("delivery %s: email failed: %s", delivery.pk, error)
        _delivery_failed(delivery, f"{type(error).__name__}: {error}", retry_after=None)
        return
    _delivery_sent(delivery)


def _webhook_send(delivery: Delivery) -> None:
    endpoint = delivery.subscription.endpoint
    assert endpoint is not None  # noqa: S101 (the check constraint guarantees it)
    post = delivery.post
    outcome = webhook_send(
        endpoint=endpoint,
        message_id=delivery.webhook_id,
        event_type="post.published",
        data={
            "publisher": post.publisher.slug,
            "bot": post.publisher.bot.slug,
            "post": {
                "id": post.pk,
                "source_id": post.source_id,
                "title": post.title,
                "body": post.body,
                "link": post.link,
                "tags": post.tags,
                "published_at": post.published_at.isoformat() if post.published_at else None,
            },
            "subscription": delivery.subscription_id,
            "tag": delivery.subscription.tag,
        },
    )
    if endpoint.is_enabled:
        webhook_outcome_record(endpoint_id=endpoint.pk, outcome=outcome)
    if outcome.result == Result.DELIVERED:
        _delivery_sent(delivery)
    elif outcome.result == Result.RETRY:
        _delivery_failed(delivery, outcome.error, retry_after=outcome.retry_after_seconds)
    else:
        _delivery_failed(delivery, outcome.error, retry_after=None, is_final=True)


def _delivery_sent(delivery: Delivery) -> None:
    Delivery.objects.filter(_owned(delivery)).update(
        status=Delivery.Status.SENT, sent_at=timezone.now(), last_error=""
    )


def _delivery_failed(
    delivery: Delivery, error: str, *, retry_after: float | None, is_final: bool = False
) -> None:
    max_attempts = (
        settings.WEBHOOK_MAX_ATTEMPTS
        if delivery.subscription.destination == Subscription.Destination.WEBHOOK
        else settings.DELIVERY_MAX_ATTEMPTS
    )
    if is_final or delivery.attempts >= max_attempts:
        Delivery.objects.filter(_owned(delivery)).update(
            status=Delivery.Status.DEAD, last_error=error[:2000], next_attempt_at=None
        )
        logger.warning(
            "delivery %s: dead after %d attempts: %s", delivery.pk, delivery.attempts, error
        )
        return
    wait = webhook_retry_seconds(attempts=delivery.attempts, retry_after=retry_after)
    if (
        Delivery.objects.filter(_owned(delivery)).update(
            status=Delivery.Status.FAILED,
            last_error=error[:2000],
            next_attempt_at=timezone.now() + timedelta(seconds=wait),
        )
        and wait <= COUNTDOWN_MAX_SECONDS
    ):
        raise DeliveryRetry(wait)


def deliveries_retry(*, deliveries: QuerySet[Delivery]) -> int:
    """Staff or API: send failed or dead deliveries again now; returns how many."""
    ids = list(
        deliveries.filter(status__in=[Delivery.Status.FAILED, Delivery.Status.DEAD]).values_list(
            "pk", flat=True
        )
    )
    Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.PENDING, next_attempt_at=None)
    transaction.on_commit(lambda: [_delivery_enqueue(pk) for pk in ids])
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
        _post_deliveries_enqueue(post_id, countdown=(published_at - now).total_seconds())
    for post_id in posts:
        _post_deliveries_enqueue(post_id)
    singles = list(
        open_rows.exclude(
            status=Delivery.Status.PENDING, subscription__destination=Subscription.Destination.ROOM
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for delivery_id in singles:
        _delivery_enqueue(delivery_id)
    if posts or singles or scheduled:
        logger.info(
            "sweep: %d posts and %d deliveries enqueued again, %d scheduled posts handed on",
            len(posts),
            len(singles),
            len(scheduled),
        )
    return len(posts) + len(singles) + len(scheduled)
