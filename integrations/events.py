"""Events for integrators: room callbacks and bot-wide event hooks, sent as signed webhooks.

Nothing on the chat path writes here. A periodic scan turns new rows (messages, publisher
runs, dead deliveries) into one `EventDelivery` per hook, past cursors kept on the hook,
and a sender per hook posts them strictly in order through the shared webhooks app. A row
is read only once it is `EVENT_SETTLE_SECONDS` old, so a transaction that took an id
earlier but committed later is not skipped by the cursor.
"""

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, Max, OuterRef, Q, QuerySet
from django.db.models.functions import Cast, Now
from django.utils import timezone

from conversations.models import Message, Room
from integrations.models import EventDelivery, EventHook, EventType
from publishers.models import Delivery, PublisherRun
from webhooks.models import WebhookEndpoint
from webhooks.services import (
    Result,
    webhook_outcome_record,
    webhook_retry_seconds,
    webhook_send,
)

logger = logging.getLogger(__name__)

SCAN_BATCH = 500
SEND_LEASE = timedelta(seconds=60)


def event_hook_create(
    *,
    endpoint: WebhookEndpoint,
    events: list[str],
    room: Room | None = None,
    after_message_id: int | None = None,
) -> EventHook:
    """Subscribe an endpoint to events from now on (or after one message): no history."""
    if after_message_id is None:
        after_message_id = Message.objects.aggregate(top=Max("id"))["top"] or 0
    hook = EventHook(
        endpoint=endpoint,
        room=room,
        events=list(dict.fromkeys(events)),
        last_message_id=after_message_id,
        last_publisher_run_id=PublisherRun.objects.aggregate(top=Max("id"))["top"] or 0,
    )
    hook.full_clean()
    hook.save()
    return hook


def room_callback_set(*, room: Room, endpoint: WebhookEndpoint, after_message_id: int) -> EventHook:
    """The room's replies after a message go to the endpoint; setting it again keeps the
    callback as it was."""
    existing = EventHook.objects.filter(room=room, endpoint=endpoint).first()
    if existing is not None:
        return existing
    return event_hook_create(
        endpoint=endpoint,
        room=room,
        events=[EventType.REPLY_SENT],
        after_message_id=after_message_id,
    )


def _message_payload(message: Message) -> dict[str, Any]:
    room = message.room
    return {
        "bot": room.bot.slug,
        "room": {"id": room.pk, "connector": room.connector, "external_id": room.external_id},
        "message": {
            "id": message.pk,
            "sender": {"kind": message.sender_kind, "name": message.sender_name},
            "participant": message.participant_id,
            "text": message.text,
            "html": message.html,
            "reply_to": message.reply_to_id,
            "created_at": message.created_at.isoformat(),
        },
    }


def _message_events(hook: EventHook, bot_id: int) -> list[EventDelivery]:
    wanted = {EventType.MESSAGE_RECEIVED, EventType.REPLY_SENT} & set(hook.events)
    if not wanted:
        return []
    messages = (
        Message.objects.filter(
            room__bot_id=bot_id,
            id__gt=hook.last_message_id,
            # On the clock that stamped the messages: the database's (Message.created_at).
            created_at__lte=Now() - timedelta(seconds=settings.EVENT_SETTLE_SECONDS),
        )
        .select_related("room__bot", "participant")
        .order_by("id")
    )
    if hook.room_id:
        messages = messages.filter(room_id=hook.room_id)
    rows = []
    for message in messages[:SCAN_BATCH]:
        hook.last_message_id = message.pk
        kind = (
            EventType.MESSAGE_RECEIVED
            if message.sender_kind == Message.SenderKind.PARTICIPANT
            else EventType.REPLY_SENT
        )
        if kind in wanted:
            rows.append(
                EventDelivery(
                    hook=hook,
                    event_type=kind,
                    object_key=str(message.pk),
                    payload=_message_payload(message),
                )
            )
    return rows


def _publisher_events(hook: EventHook, bot_id: int, settled: Any) -> list[EventDelivery]:
    if EventType.PUBLISHER_FAILING not in hook.events or hook.room_id:
        return []
    runs = (
        PublisherRun.objects.filter(publisher__bot_id=bot_id, id__gt=hook.last_publisher_run_id)
        .select_related("publisher__bot")
        .order_by("id")
    )
    rows = []
    for run in runs[:SCAN_BATCH]:
        if run.finished_at is None or run.finished_at > settled:
            break  # the cursor waits for it, so no failing run is skipped
        hook.last_publisher_run_id = run.pk
        if run.error:
            publisher = run.publisher
            rows.append(
                EventDelivery(
                    hook=hook,
                    event_type=EventType.PUBLISHER_FAILING,
                    object_key=str(run.pk),
                    payload={
                        "bot": publisher.bot.slug,
                        "publisher": {
                            "id": publisher.pk,
                            "slug": publisher.slug,
                            "name": publisher.name,
                        },
                        "run": {
                            "id": run.pk,
                            "started_at": run.started_at.isoformat(),
                            "finished_at": run.finished_at.isoformat(),
                            "error": run.error,
                        },
                    },
                )
            )
    return rows


def _delivery_events(hook: EventHook, bot_id: int) -> list[EventDelivery]:
    if EventType.DELIVERY_FAILED not in hook.events or hook.room_id:
        return []
    emitted = EventDelivery.objects.filter(
        hook=hook,
        event_type=EventType.DELIVERY_FAILED,
        object_key=Cast(OuterRef("pk"), CharField()),
    )
    dead = (
        Delivery.objects.filter(
            status=Delivery.Status.DEAD,
            subscription__publisher__bot_id=bot_id,
            created_at__gte=hook.created_at,
        )
        .exclude(Exists(emitted))
        .select_related("post__publisher__bot")
        .order_by("id")
    )
    return [
        EventDelivery(
            hook=hook,
            event_type=EventType.DELIVERY_FAILED,
            object_key=str(delivery.pk),
            payload={
                "bot": delivery.post.publisher.bot.slug,
                "delivery": {
                    "id": delivery.pk,
                    "subscription": delivery.subscription_id,
                    "attempts": delivery.attempts,
                    "last_error": delivery.last_error,
                },
                "post": {"id": delivery.post_id, "title": delivery.post.title},
            },
        )
        for delivery in dead[:SCAN_BATCH]
    ]


def event_hook_scan(*, hook_id: int) -> int:
    """Turn what happened since the hook's cursors into events; returns how many."""
    settled = timezone.now() - timedelta(seconds=settings.EVENT_SETTLE_SECONDS)
    with transaction.atomic():
        hook = (
            EventHook.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=hook_id)
            .first()
        )
        if hook is None:
            return 0  # another scan holds it
        bot_id = hook.endpoint.bot_id
        if bot_id is None:
            return 0  # a hook's endpoint has a bot (`EventHook.clean`); events are a bot's
        rows = [
            *_message_events(hook, bot_id),
            *_publisher_events(hook, bot_id, settled),
            *_delivery_events(hook, bot_id),
        ]
        EventDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        hook.save(update_fields=["last_message_id", "last_publisher_run_id"])
    return len(rows)


def events_scan() -> list[int]:
    """Scan every live hook; returns the ids of hooks with events due to send."""
    hooks = EventHook.objects.filter(is_enabled=True, endpoint__is_enabled=True)
    for hook_id in hooks.values_list("pk", flat=True):
        event_hook_scan(hook_id=hook_id)
    now = timezone.now()
    due = EventDelivery.objects.filter(
        hook=OuterRef("pk"), status=EventDelivery.Status.PENDING
    ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    return list(
        hooks.filter(Exists(due))
        .filter(Q(send_lease_until__isnull=True) | Q(send_lease_until__lt=now))
        .values_list("pk", flat=True)
    )


def _lease_take(hook_id: int) -> bool:
    now = timezone.now()
    return bool(
        EventHook.objects.filter(
            Q(send_lease_until__isnull=True) | Q(send_lease_until__lt=now), pk=hook_id
        ).update(send_lease_until=now + SEND_LEASE)
    )


def event_hook_send(*, hook_id: int) -> int:
    """Send the hook's due events in order, one at a time; returns how many were sent.

    One sender per hook (a lease on the hook row). A retryable failure stops the queue
    until its next attempt, so a later event never overtakes an earlier one; an event that
    cannot be delivered (4xx, refused address, attempts used up) is dead and the queue
    moves on. A disabled endpoint keeps its events pending until it is enabled again.
    """
    if not _lease_take(hook_id):
        return 0
    sent = 0
    try:
        while True:
            hook = EventHook.objects.select_related("endpoint").get(pk=hook_id)
            head = hook.deliveries.filter(status=EventDelivery.Status.PENDING).first()
            now = timezone.now()
            if not hook.endpoint.is_enabled or head is None:
                return sent
            if head.next_attempt_at is not None and head.next_attempt_at > now:
                return sent
            outcome = webhook_send(
                endpoint=hook.endpoint,
                message_id=f"event-{head.pk}",
                event_type=head.event_type,
                data=head.payload,
            )
            webhook_outcome_record(endpoint_id=hook.endpoint_id, outcome=outcome)
            attempts = head.attempts + 1
            rows = EventDelivery.objects.filter(pk=head.pk, status=EventDelivery.Status.PENDING)
            if outcome.result == Result.DELIVERED:
                rows.update(
                    status=EventDelivery.Status.SENT, attempts=attempts, sent_at=now, last_error=""
                )
                sent += 1
            elif outcome.result == Result.RETRY and attempts < settings.WEBHOOK_MAX_ATTEMPTS:
                wait = webhook_retry_seconds(
                    attempts=attempts, retry_after=outcome.retry_after_seconds
                )
                rows.update(
                    attempts=attempts,
                    last_error=outcome.error[:2000],
                    next_attempt_at=now + timedelta(seconds=wait),
                )
                return sent
            else:
                logger.warning("event delivery %s is dead: %s", head.pk, outcome.error)
                rows.update(
                    status=EventDelivery.Status.DEAD,
                    attempts=attempts,
                    last_error=outcome.error[:2000],
                )
            EventHook.objects.filter(pk=hook_id).update(
                send_lease_until=timezone.now() + SEND_LEASE
            )
    finally:
        EventHook.objects.filter(pk=hook_id).update(send_lease_until=None)


def event_deliveries_retry(*, deliveries: QuerySet[EventDelivery]) -> int:
    """Send dead events again (after their hook's pending ones); returns how many."""
    return deliveries.filter(status=EventDelivery.Status.DEAD).update(
        status=EventDelivery.Status.PENDING, next_attempt_at=None
    )
