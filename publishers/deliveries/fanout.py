"""One post to every subscription: a delivery row per subscription, written with the post
in one transaction (a unique constraint makes a second impossible); web chat deliveries
then go in bulk, a batch of rooms getting its messages and marked sent in one transaction,
then pushed to open sockets (a socket that was away finds the post in the room's history)."""

import itertools
import logging
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations import realtime
from conversations.models import Message
from engine.messages import OutboundMessage
from publishers.deliveries.queue import (
    COUNTDOWN_MAX_SECONDS,
    delivery_enqueue,
    post_deliveries_enqueue,
    throttle_allows,
    throttle_wait,
)
from publishers.exceptions import DeliveryRetry
from publishers.models import Delivery, Post, Subscription

logger = logging.getLogger(__name__)


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
        created: int = cursor.rowcount
    post_id = post.pk
    transaction.on_commit(lambda: post_deliveries_enqueue(post_id))
    return created


def post_message_text(post: Post) -> str:
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
        delivery_enqueue(delivery_id)
    logger.info("post %s: %d web chat deliveries sent", post_id, sent)
    return sent


def _room_batch_send(post: Post) -> list[OutboundMessage]:
    """Claim a batch of the post's pending web chat deliveries, store a message in each
    room and mark them sent, all in one transaction; return the messages to push."""
    size = settings.PUBLISHING_ROOM_BATCH
    if settings.PUBLISHING_RATE_LIMITS.get(Subscription.Destination.ROOM):
        tokens = (throttle_allows(Subscription.Destination.ROOM) for _ in range(size))
        size = sum(1 for _ in itertools.takewhile(bool, tokens))  # stop at the first refusal
        if not size:
            raise DeliveryRetry(throttle_wait(Subscription.Destination.ROOM))
    text = post_message_text(post)
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
