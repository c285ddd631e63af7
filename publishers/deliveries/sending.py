"""One delivery of its own (a room, an email, a webhook): claimed with a conditional
update, sent, and retried with backoff when it failed in a way worth retrying."""

import logging
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from conversations import realtime
from conversations.models import Message
from engine.messages import OutboundMessage
from publishers.deliveries.fanout import post_message_text
from publishers.deliveries.queue import COUNTDOWN_MAX_SECONDS, throttle_allows, throttle_wait
from publishers.exceptions import DeliveryRetry
from publishers.models import Delivery, Subscription
from webhooks.services import (
    Result,
    webhook_outcome_record,
    webhook_retry_seconds,
    webhook_send,
)

logger = logging.getLogger(__name__)


UNSUBSCRIBE_SALT = "publishers.unsubscribe"


def delivery_send(*, delivery_id: int) -> None:
    """Make one attempt at a delivery that is due: claim it, send it, record the outcome.

    Raises `DeliveryRetry` when it should be tried again (or the kind is throttled).
    """
    row = Delivery.objects.filter(pk=delivery_id).values("subscription__destination").first()
    if row is None:
        return
    kind = row["subscription__destination"]
    now = timezone.now()
    if not throttle_allows(kind):
        wait = throttle_wait(kind)
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
            early = (cast(datetime, due[0]) - now).total_seconds()  # `__gt` leaves NULL out
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
    text = post_message_text(delivery.post)
    with transaction.atomic():
        if not Delivery.objects.filter(_owned(delivery)).update(
            status=Delivery.Status.SENT, sent_at=timezone.now(), last_error=""
        ):
            return
        message = Message.objects.create(
            # A room subscription always names its room (`Subscription.clean`).
            room_id=cast(int, delivery.subscription.room_id),
            sender_kind=Message.SenderKind.BOT,
            text=text,
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
