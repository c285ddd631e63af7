"""Whose turn it is: a room's runs go in the order they were written, and a run is
claimed by one attempt only, in one conditional update. Whoever finishes a run passes
its room's turn on (`turns_pass`)."""

import logging
from collections.abc import Collection, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.utils import timezone

from actions import liveness
from actions.exceptions import ActionRunRetry
from actions.models import ActionRun
from actions.services.queue import ETA_MAX_SECONDS, action_runs_enqueue

logger = logging.getLogger(__name__)


def runs_take_back(task_id: str) -> int:
    """Return to pending the runs a task's earlier delivery claimed and left running.

    A task is delivered again with the same id when the worker process running it died
    (`reject_on_worker_lost`) or it failed with a database error before it finished; its
    runs would otherwise wait for the sweeper's `ACTION_RUN_TIMEOUT_SECONDS`. A retry the
    task asks for itself leaves no run running, so this finds nothing then.
    """
    if not task_id:
        return 0
    taken = ActionRun.objects.filter(
        status=ActionRun.Status.RUNNING, claimed_by_task=task_id
    ).update(status=ActionRun.Status.PENDING, last_error="worker lost; taken back by its task")
    if taken:
        logger.warning("task %s: took back %d runs its earlier delivery left", task_id, taken)
    return taken


def runs_load(run_ids: Sequence[int]) -> list[ActionRun]:
    if not run_ids:
        return []
    return list(
        ActionRun.objects.select_related("bot", "room__bot", "participant", "action", "message")
        .filter(pk__in=run_ids)
        .order_by("id")
    )


def earlier_unfinished(now: datetime) -> QuerySet[ActionRun]:
    """Due runs of the same room, written before the outer run, that have not finished."""
    return ActionRun.objects.filter(
        room_id=OuterRef("room_id"),
        id__lt=OuterRef("id"),
        status__in=ActionRun.ACTIVE,
        run_after__lte=now,
    )


def waiting_runs_claim(
    *,
    limit: int,
    task_id: str,
    first: Sequence[int] = (),
    room_ids: Collection[int] | None = None,
) -> list[int]:
    """Claim up to `limit` due runs that wait for a worker and whose turn it is (of the
    rooms `room_ids` only, if given): the runs `first` names before any other, then the
    oldest.

    Only runs already handed to the broker (their task will find them done) and not in a
    batching window (those go with their batch). Rows another worker is claiming are
    skipped, not waited for.
    """
    if limit <= 0:
        return []
    now = timezone.now()
    waiting = ActionRun.objects.filter(
        status=ActionRun.Status.PENDING,
        run_after__lte=now,
        batch_until__isnull=True,
        enqueued_at__isnull=False,
    )
    if room_ids is not None:
        waiting = waiting.filter(room_id__in=room_ids)
    order = ["id"]
    if first:
        waiting = waiting.alias(
            is_first=ExpressionWrapper(Q(pk__in=first), output_field=BooleanField())
        )
        order.insert(0, "-is_first")
    waiting = (
        waiting.exclude(Exists(earlier_unfinished(now)))
        .order_by(*order)
        .select_for_update(skip_locked=True)
    )
    with transaction.atomic():
        run_ids = list(waiting.values_list("pk", flat=True)[:limit])
        if run_ids:
            turn_claim_update(ActionRun.objects.filter(pk__in=run_ids), task_id)
    return run_ids


def turn_claim_update(queryset: QuerySet[ActionRun], task_id: str) -> int:
    return queryset.update(
        status=ActionRun.Status.RUNNING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        claimed_by_task=task_id,
        claimed_by_process=liveness.process_name(),
    )


def run_claim_if_its_turn(run_id: int, task_id: str) -> bool:
    """The usual case in one statement: the run is pending, due, and no earlier due run of
    its room is unfinished; claim it."""
    now = timezone.now()
    return bool(
        turn_claim_update(
            ActionRun.objects.filter(
                pk=run_id, status=ActionRun.Status.PENDING, run_after__lte=now
            ).exclude(Exists(earlier_unfinished(now))),
            task_id,
        )
    )


def run_claim_after_checks(run_id: int, task_id: str) -> bool:
    """Why the run could not be claimed at once, acted on: gone, early (raising
    `ActionRunRetry`), or not its turn (left to the earlier run's `turns_pass`); or an
    earlier run just finished, and it is claimed now."""
    waiting = (
        ActionRun.objects.filter(pk=run_id, status=ActionRun.Status.PENDING)
        .values("room_id", "run_after")
        .first()
    )
    if waiting is None:
        logger.info("action run %s: not pending, nothing to do", run_id)
        return False
    room_id = waiting["room_id"]
    early_seconds = (waiting["run_after"] - timezone.now()).total_seconds()
    if early_seconds > ETA_MAX_SECONDS:
        # A stray task for a far-off run: dropping it is safe, the sweeper enqueues the run
        # when due; waiting hours in the broker would outlive Redis's visibility timeout.
        logger.info("action run %s: not due for %ds, left to the sweeper", run_id, early_seconds)
        return False
    if early_seconds > 0:  # a duplicate or re-enqueued task came before its time
        raise ActionRunRetry(early_seconds)
    is_behind = ActionRun.objects.filter(
        room_id=room_id,
        id__lt=run_id,
        status__in=ActionRun.ACTIVE,
        run_after__lte=timezone.now(),
    ).exists()
    if is_behind:
        # No retry to spin on: the earlier run passes the turn when it finishes, after its
        # commit, so this check and that hand-over cannot both miss the run.
        logger.debug("action run %s: waits its turn", run_id)
        return False
    claimed = turn_claim_update(
        ActionRun.objects.filter(pk=run_id, status=ActionRun.Status.PENDING), task_id
    )
    if not claimed:
        logger.info("action run %s: not pending, nothing to do", run_id)
    return bool(claimed)


def turns_pass(*, room_ids: Collection[int], task_id: str, limit: int) -> list[int]:
    """Give the turn of these rooms, whose runs just finished or went back to wait, to
    their next runs; returns the ones claimed here to run now (up to `limit`).

    The others whose turn it is (in a batching window, past the limit, or due but never
    enqueued) are enqueued: a run that found an earlier one unfinished has no task left.
    Called after the finished runs' commit, so a run checking its turn at the same moment
    either sees them finished or is found here.
    """
    now = timezone.now()
    their_turn = list(
        ActionRun.objects.filter(
            room_id__in=room_ids, status=ActionRun.Status.PENDING, run_after__lte=now
        )
        .exclude(Exists(earlier_unfinished(now)))
        .order_by("id")
    )
    if not their_turn:
        return []
    claimed = waiting_runs_claim(
        limit=limit, task_id=task_id, room_ids={run.room_id for run in their_turn}
    )
    action_runs_enqueue(runs=[run for run in their_turn if run.pk not in claimed])
    return claimed
