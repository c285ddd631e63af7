"""Writing action runs and handing them to the broker: one row per call first, its
task after the commit; the sweeper enqueues again what was lost."""

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from actions import liveness
from actions.models import ActionRun
from botsite.queue import task_send
from conversations.models import Bot, Message, Participant, Room
from engine.messages import ActionCall

logger = logging.getLogger(__name__)

#: The tasks this module sends (`actions/tasks.py`), by name (`botsite.queue`).
RUN_EXECUTE_TASK = "actions.tasks.action_run_execute"
RUNS_EXECUTE_TASK = "actions.tasks.action_runs_execute"


#: Runs due within this are handed to the broker with an ETA; later ones wait for the sweeper.
ETA_MAX_SECONDS = 15 * 60


def action_runs_build(
    *,
    bot: Bot,
    room: Room,
    participant: Participant | None,
    message: Message | None,
    calls: Sequence[ActionCall],
    batch_window_ms: int = 0,
) -> list[ActionRun]:
    """One pending run per call, not yet written (`action_runs_store` writes them).

    With a batching window, calls for now join the room's batch of the current window:
    they run together when the window ends and get one combined reply.
    """
    now = timezone.now()
    batch_until = window_end(now, batch_window_ms) if batch_window_ms else None
    return [
        ActionRun(
            bot=bot,
            room=room,
            participant=participant,
            message=message,
            action_id=call.action.id,
            action_name=call.action.name,
            arguments=dict(call.arguments),
            run_after=(
                now + timedelta(seconds=call.delay_seconds)
                if call.delay_seconds or batch_until is None
                else batch_until
            ),
            batch_until=None if call.delay_seconds else batch_until,
        )
        for call in calls
    ]


def action_runs_store(runs: Sequence[ActionRun]) -> None:
    """Write the runs in the caller's transaction, in one insert; enqueue them on commit,
    the ones due now together (`action_runs_enqueue`)."""
    if not runs:
        return
    now = timezone.now()
    enqueue_before = now + timedelta(seconds=ETA_MAX_SECONDS)
    # Far-off runs are not handed to the broker now: an ETA task outliving Redis's
    # visibility timeout is delivered twice, and the embedded broker forgets ETAs on a
    # restart. The sweeper enqueues them once they are due.
    soon = [run for run in runs if run.run_after <= enqueue_before]
    # Marked as enqueued when written (no update after the commit); should the broker
    # refuse the task, the sweeper finds the run stuck all the same.
    for run in soon:
        run.enqueued_at = now
    ActionRun.objects.bulk_create(runs)
    transaction.on_commit(lambda: _action_runs_enqueue_after_commit(runs=soon))


def _action_runs_enqueue_after_commit(*, runs: Sequence[ActionRun]) -> None:
    try:
        action_runs_enqueue(runs=runs, is_marked=True)
    except KombuOperationalError as error:
        # The message and its runs are stored: the sweeper enqueues them once the broker is
        # back. Failing here would fail the message's sender (a chat socket, an API call).
        logger.warning(
            "runs %s left to the sweeper: broker unreachable (%s)",
            [run.pk for run in runs],
            error,
        )


def window_end(moment: datetime, window_ms: int) -> datetime:
    """The end of the fixed window `moment` falls in. Windows are aligned to the clock, so
    messages arriving at once in different processes land in the same batch without any
    lock or lookup."""
    moment_ms = int(moment.timestamp() * 1000)
    end_ms = (moment_ms // window_ms + 1) * window_ms
    return datetime.fromtimestamp(end_ms / 1000, tz=UTC)


def action_runs_enqueue(*, runs: Sequence[ActionRun], is_marked: bool = False) -> None:
    """Hand the runs to the broker: the ones due now in tasks of up to
    `ACTION_RUN_CLAIM_MAX` runs each (a broker message and a task per run cost more than
    most actions), the others one task each, with their due time.

    Runs in a batching window go alone too: the first task of a batch runs all of it.
    """
    if not runs:
        return
    now = timezone.now()
    if not is_marked:
        ActionRun.objects.filter(pk__in=[run.pk for run in runs]).update(enqueued_at=now)
    together = [run for run in runs if run.run_after <= now and run.batch_until is None]
    size = max(settings.ACTION_RUN_CLAIM_MAX, 1)
    for start in range(0, len(together), size):
        task_send(RUNS_EXECUTE_TASK, [run.pk for run in together[start : start + size]])
    sent_together = {run.pk for run in together}
    for run in runs:
        if run.pk in sent_together:
            continue
        if run.run_after > now:
            task_send(RUN_EXECUTE_TASK, run.pk, eta=run.run_after)
        else:
            task_send(RUN_EXECUTE_TASK, run.pk)


def action_runs_sweep() -> int:
    """Re-enqueue runs whose task was lost or whose worker died; returns how many."""
    now = timezone.now()
    stuck_since = now - timedelta(seconds=settings.ACTION_RUN_STUCK_SECONDS)
    timed_out_since = now - timedelta(seconds=settings.ACTION_RUN_TIMEOUT_SECONDS)
    ActionRun.objects.filter(
        status=ActionRun.Status.RUNNING, started_at__lt=timed_out_since
    ).update(status=ActionRun.Status.PENDING, last_error="worker lost or run timed out")
    # Enqueued anew below at once (not left for ACTION_RUN_STUCK_SECONDS after their
    # first enqueueing, which may have been moments before their worker died).
    lost = liveness.runs_of_silent_processes().update(
        status=ActionRun.Status.PENDING,
        enqueued_at=None,
        last_error="worker process stopped sending heartbeats",
    )
    if lost:
        logger.warning("took back %d runs of worker processes that stopped beating", lost)
    liveness.heartbeats_forget()
    stuck = list(
        ActionRun.objects.filter(status=ActionRun.Status.PENDING, run_after__lte=now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stuck_since))
        .order_by("id")[:1000]
    )
    if stuck:
        logger.info("enqueueing %d due or stuck action runs", len(stuck))
        action_runs_enqueue(runs=stuck)
    return len(stuck)
