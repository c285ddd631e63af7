"""Read-only queries over a bot's work: its help command, and whether it is still working
on a message or a room (runs not finished)."""

import time
from datetime import timedelta

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from actions.models import ActionRun
from actions.snapshots import bot_snapshot_get
from conversations.models import Bot, Message
from conversations.selectors import message_outbound
from engine.messages import OutboundMessage, ParticipantInfo, TrustLevel
from engine.parse import help_command

REPLY_POLL_SECONDS = 0.05
#: Calls due within this count as "being worked on" (a batching window is at most 60 s).
BUSY_HORIZON_SECONDS = 60


def bot_help_command(*, bot: Bot) -> str:
    """The help command a visitor may use on the bot (`!help`), or "" when it has none."""
    visitor = ParticipantInfo(id=0, name="", trust_level=TrustLevel.VISITOR)
    return help_command(bot_snapshot_get(bot=bot), visitor)


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
        if leader is not None:  # NULL would match no reply anyway
            answered.add(leader)
    replies = (
        Message.objects.filter(reply_to_id__in=answered, sender_kind=Message.SenderKind.BOT)
        .select_related("room__bot")
        .order_by("id")
    )
    return [message_outbound(reply) for reply in replies], is_complete


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
