"""Read-only queries of the conversations app."""

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from actions.models import ActionRun
from conversations.models import Bot, Message, Participant, Room
from conversations.snapshots import bot_snapshot_get
from engine.messages import OutboundMessage, ParticipantInfo, RoomInfo, TrustLevel
from engine.parse import help_command

REPLY_POLL_SECONDS = 0.05
#: Calls due within this count as "being worked on" (a batching window is at most 60 s).
BUSY_HORIZON_SECONDS = 60
#: A reconnecting socket is sent again what was stored this long before its last message.
CATCHUP_OVERLAP_SECONDS = 30


def bot_help_command(*, bot: Bot) -> str:
    """The help command a visitor may use on the bot (`!help`), or "" when it has none."""
    visitor = ParticipantInfo(id=0, name="", trust_level=TrustLevel.VISITOR)
    return help_command(bot_snapshot_get(bot=bot), visitor)


def room_info(room: Room) -> RoomInfo:
    return RoomInfo(
        id=room.pk, connector=room.connector, is_direct=room.is_direct, mood=room.effective_mood
    )


def participant_info(participant: Participant) -> ParticipantInfo:
    return ParticipantInfo(
        id=participant.pk,
        name=str(participant),
        trust_level=participant.trust_level,
        is_ignored=participant.is_ignored,
    )


def message_outbound(message: Message) -> OutboundMessage:
    return OutboundMessage(
        id=message.pk,
        room_id=message.room_id,
        sender_kind=message.sender_kind,
        sender_name=message.sender_name,
        text=message.text,
        html=message.html,
        created_at=message.created_at.isoformat(),
    )


def replies_wait(*, message_id: int, timeout_seconds: float) -> tuple[list[OutboundMessage], bool]:
    """The bot's replies to a message, waiting up to the timeout for queued actions.

    Returns the replies so far and whether every action the message caused has finished.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        is_complete = not ActionRun.objects.filter(
            message_id=message_id,
            status__in=ActionRun.ACTIVE,
        ).exists()
        if is_complete or time.monotonic() >= deadline:
            break
        if not connection.in_atomic_block:
            # Back to the pool while waiting: otherwise every waiting request holds a
            # connection, and a few of them starve the process's pool.
            connection.close()
        time.sleep(REPLY_POLL_SECONDS)
    # A batch answers everyone in one reply, stored as the reply to the batch's first run.
    answered = {message_id}
    for run in ActionRun.objects.filter(message_id=message_id, batch_until__isnull=False):
        leader = (
            ActionRun.objects.filter(room_id=run.room_id, batch_until=run.batch_until)
            .order_by("id")
            .values_list("message_id", flat=True)
            .first()
        )
        answered.add(leader)
    replies = (
        Message.objects.filter(reply_to_id__in=answered, sender_kind=Message.SenderKind.BOT)
        .select_related("room__bot")
        .order_by("id")
    )
    return [message_outbound(reply) for reply in replies], is_complete


def messages_recent(*, room_id: int, after_id: int | None = None) -> list[OutboundMessage]:
    """What a socket is sent on connect, oldest first: the room's recent history, or,
    after `after_id`, everything it missed (up to `CHAT_CATCHUP_LIMIT`).

    After `after_id` also comes what was stored shortly before that message: ids are
    taken at insert and transactions commit in any order, so a worker's reply with a
    lower id can become visible after a message the socket already saw. Clients show
    each id once.
    """
    queryset = Message.objects.filter(room_id=room_id).select_related("participant", "room__bot")
    if after_id is not None:
        missed = Q(id__gt=after_id)
        seen_at = queryset.filter(id=after_id).values_list("created_at", flat=True).first()
        if seen_at is not None:
            overlap = timedelta(seconds=CATCHUP_OVERLAP_SECONDS)
            missed |= Q(id__lt=after_id, created_at__gte=seen_at - overlap)
        catchup = queryset.filter(missed).order_by("id")[: settings.CHAT_CATCHUP_LIMIT]
        return [message_outbound(message) for message in catchup]
    newest = list(queryset.order_by("-id")[: settings.CHAT_HISTORY_LIMIT])
    return [message_outbound(message) for message in reversed(newest)]


def room_is_busy(*, room_id: int) -> bool:
    """Whether the bot is working on calls of the room that are due (not later ones)."""
    return _busy_runs(room_ids={room_id}).exists()


def rooms_busy(*, room_ids: set[int]) -> set[int]:
    """Those of the rooms for which the bot is working on calls that are due."""
    if not room_ids:
        return set()
    return set(_busy_runs(room_ids=room_ids).values_list("room_id", flat=True).distinct())


def _busy_runs(*, room_ids: set[int]) -> QuerySet[ActionRun]:
    return ActionRun.objects.filter(
        room_id__in=room_ids,
        status__in=ActionRun.ACTIVE,
        run_after__lte=timezone.now() + timedelta(seconds=BUSY_HORIZON_SECONDS),
    )
