"""Questions waiting for a participant's answer: the call that asked, kept as a row
until answered, replaced or expired."""

from datetime import timedelta

from django.utils import timezone

from actions.models import PendingAction
from actions.snapshots import action_snapshot
from botsite.db import queryset_delete
from conversations.models import Participant, Room
from engine.messages import PendingCall


def pending_call_get(*, room: Room, participant: Participant) -> PendingCall | None:
    """The call waiting for this participant's answer in this room, unless it expired."""
    row = (
        PendingAction.objects.filter(
            room=room,
            participant=participant,
            expires_at__gt=timezone.now(),
            action__is_enabled=True,
        )
        .select_related("action")
        .first()
    )
    if row is None:
        return None
    return PendingCall(
        action=action_snapshot(row.action),
        arguments=row.arguments,
        missing=row.missing_argument,
        source=row.source,
    )


def pending_call_save(
    *, room: Room, participant: Participant, pending: PendingCall | None, timeout_seconds: int
) -> None:
    """Replace the participant's waiting call in the room (None: nothing waits any more)."""
    PendingAction.objects.filter(room=room, participant=participant).delete()
    if pending is not None:
        PendingAction.objects.create(
            room=room,
            participant=participant,
            action_id=pending.action.id,
            arguments=dict(pending.arguments),
            missing_argument=pending.missing,
            source=pending.source,
            expires_at=timezone.now() + timedelta(seconds=timeout_seconds),
        )


def pending_actions_purge() -> int:
    """Delete questions nobody answered in time; returns how many."""
    deleted = queryset_delete(PendingAction.objects.filter(expires_at__lte=timezone.now()))
    return deleted.get(PendingAction._meta.label, 0)
