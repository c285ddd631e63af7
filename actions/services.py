"""Use cases of the actions app: queue action runs and execute them exactly once."""

import json
import logging
import random
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from actions import liveness
from actions.base import ActionContext
from actions.exceptions import ActionFailed
from actions.models import ActionRun, PendingAction
from actions.ports import HttpThroughBotsite, ScheduleFromDatabase
from actions.registry import action_types
from botsite.db import queryset_delete
from botsite.expressions import JSONArrayAppend
from conversations import realtime
from conversations.models import Bot, Message, Participant, Room
from conversations.ports import MemoryFromDatabase, ParticipantsFromDatabase, RoomFromDatabase
from conversations.selectors import (
    message_outbound,
    participant_info,
    room_info,
    room_is_busy,
    rooms_busy,
)
from conversations.snapshots import action_snapshot, bot_snapshot_get
from engine.messages import ActionCall, OutboundMessage, PendingCall, Response
from engine.render import responses_render
from publishers.ports import SubscriptionsFromDatabase
from publishers.selectors import PostsFromDatabase

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
#: Runs due within this are handed to the broker with an ETA; later ones wait for the sweeper.
ETA_MAX_SECONDS = 15 * 60
GENERIC_FAILURE = "Sorry, something went wrong while doing that."


class ActionRunRetry(Exception):
    """Try the run again after `countdown`: it failed in a way worth retrying, or its task
    came before the run was due."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


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
    from actions.tasks import action_run_execute, action_runs_execute  # tasks wrap these

    if not runs:
        return
    now = timezone.now()
    if not is_marked:
        ActionRun.objects.filter(pk__in=[run.pk for run in runs]).update(enqueued_at=now)
    together = [run for run in runs if run.run_after <= now and run.batch_until is None]
    size = max(settings.ACTION_RUN_CLAIM_MAX, 1)
    for start in range(0, len(together), size):
        action_runs_execute.delay([run.pk for run in together[start : start + size]])
    sent_together = {run.pk for run in together}
    for run in runs:
        if run.pk in sent_together:
            continue
        if run.run_after > now:
            action_run_execute.apply_async((run.pk,), eta=run.run_after)
        else:
            action_run_execute.delay(run.pk)


def action_run_execute(*, run_id: int, task_id: str = "") -> list[OutboundMessage]:
    """Claim a pending run, run its action, store the replies and push them to the room;
    return the run's replies.

    Safe to call twice or concurrently: only the caller that moves the run from pending to
    running goes on, and only the attempt that still owns the run may store its replies.
    Runs of one room run in the order they were written: while an earlier run of the room
    that is due has not finished, this one waits its turn, with no task of its own: the
    call returns, and whoever finishes the earlier run passes the turn on (`_turns_pass`).
    Raises `ActionRunRetry` when the task came early or the action failed retryably.

    Under load the call also takes other due runs still waiting for a worker (up to
    `ACTION_RUN_CLAIM_MAX` in all) and stores all their replies in one transaction, as
    the chat's intake stores messages; their own tasks then find nothing to do.

    `task_id` names the worker task calling: the runs it claims carry it, and a later call
    with the same id (the task delivered again after its worker died) takes back the runs
    still held in its name before it claims anything.
    """
    _runs_take_back(task_id)
    if not _run_claim_if_its_turn(run_id, task_id) and not _run_claim_after_checks(run_id, task_id):
        return []
    (run,) = _runs_load([run_id])
    if run.batch_until is not None:
        return _batch_execute(run, task_id)
    others = _runs_load(
        _waiting_runs_claim(limit=settings.ACTION_RUN_CLAIM_MAX - 1, task_id=task_id)
    )
    return _runs_finish([run, *others], task_id=task_id, own=run)[run.pk]


def action_runs_execute(
    *, run_ids: Sequence[int], task_id: str = ""
) -> dict[int, list[OutboundMessage]]:
    """`action_run_execute` for runs queued together: claim those whose turn it is, take
    other waiting runs along up to `ACTION_RUN_CLAIM_MAX`, run them all, store their
    replies in one transaction; return the replies per run finished here.

    A run of the list that was not claimed is left alone: another worker is claiming it,
    or an earlier run of its room is unfinished, and whoever finishes that one passes the
    turn on. `task_id` as for `action_run_execute`.
    """
    _runs_take_back(task_id)
    claimed = _waiting_runs_claim(
        limit=max(settings.ACTION_RUN_CLAIM_MAX, len(run_ids)), first=run_ids, task_id=task_id
    )
    runs = _runs_load(claimed)
    return _runs_finish(runs, task_id=task_id) if runs else {}


def _runs_take_back(task_id: str) -> int:
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


def _runs_load(run_ids: Sequence[int]) -> list[ActionRun]:
    if not run_ids:
        return []
    return list(
        ActionRun.objects.select_related("bot", "room__bot", "participant", "action", "message")
        .filter(pk__in=run_ids)
        .order_by("id")
    )


def _earlier_unfinished(now: datetime) -> QuerySet[ActionRun]:
    """Due runs of the same room, written before the outer run, that have not finished."""
    return ActionRun.objects.filter(
        room_id=OuterRef("room_id"),
        id__lt=OuterRef("id"),
        status__in=ActionRun.ACTIVE,
        run_after__lte=now,
    )


def _waiting_runs_claim(
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
        waiting.exclude(Exists(_earlier_unfinished(now)))
        .order_by(*order)
        .select_for_update(skip_locked=True)
    )
    with transaction.atomic():
        run_ids = list(waiting.values_list("pk", flat=True)[:limit])
        if run_ids:
            _turn_claim_update(ActionRun.objects.filter(pk__in=run_ids), task_id)
    return run_ids


def _turn_claim_update(queryset: QuerySet[ActionRun], task_id: str) -> int:
    return queryset.update(
        status=ActionRun.Status.RUNNING,
        started_at=timezone.now(),
        attempts=F("attempts") + 1,
        claimed_by_task=task_id,
        claimed_by_process=liveness.process_name(),
    )


def _run_claim_if_its_turn(run_id: int, task_id: str) -> bool:
    """The usual case in one statement: the run is pending, due, and no earlier due run of
    its room is unfinished; claim it."""
    now = timezone.now()
    return bool(
        _turn_claim_update(
            ActionRun.objects.filter(
                pk=run_id, status=ActionRun.Status.PENDING, run_after__lte=now
            ).exclude(Exists(_earlier_unfinished(now))),
            task_id,
        )
    )


def _run_claim_after_checks(run_id: int, task_id: str) -> bool:
    """Why the run could not be claimed at once, acted on: gone, early (raising
    `ActionRunRetry`), or not its turn (left to the earlier run's `_turns_pass`); or an
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
    claimed = _turn_claim_update(
        ActionRun.objects.filter(pk=run_id, status=ActionRun.Status.PENDING), task_id
    )
    if not claimed:
        logger.info("action run %s: not pending, nothing to do", run_id)
    return bool(claimed)


def _runs_finish(
    runs: list[ActionRun], *, task_id: str, own: ActionRun | None = None
) -> dict[int, list[OutboundMessage]]:
    """Run claimed runs' actions, store their replies in one transaction and push them to
    their rooms, then go on with the runs whose turn that gave (`_turns_pass`), up to
    `ACTION_RUN_CLAIM_MAX` runs in all; return the replies per run.

    A run that failed retryably goes back to pending with a later due time: `own` (the
    run of the calling task) raises `ActionRunRetry` so its task retries it, the others
    are enqueued anew.
    """
    outbound_by_run: dict[int, list[OutboundMessage]] = {}
    retry_countdown = None
    taken = 0
    while runs:
        taken += len(runs)
        outbound, countdown = _runs_finish_once(runs, own=own)
        outbound_by_run.update(outbound)
        if countdown is not None:
            retry_countdown = countdown
        next_ids = _turns_pass(
            room_ids={each.room_id for each in runs},
            task_id=task_id,
            limit=settings.ACTION_RUN_CLAIM_MAX - taken,
        )
        runs = _runs_load(next_ids)
    if retry_countdown is not None:
        raise ActionRunRetry(retry_countdown)
    return outbound_by_run


def _runs_finish_once(
    runs: list[ActionRun], *, own: ActionRun | None
) -> tuple[dict[int, list[OutboundMessage]], float | None]:
    """`_runs_finish` for the runs claimed together; returns their replies and, when `own`
    failed retryably, when to retry it."""
    finished: list[tuple[ActionRun, str, str, list[Response]]] = []
    retry_countdown = None
    for each in runs:
        status, error, responses, ctx = _run_action(each)
        if status == ActionRun.Status.PENDING:
            countdown = _run_retry_later(each, error)
            if each is own:
                retry_countdown = countdown
            else:
                action_runs_enqueue(runs=[each])
            continue
        rendered = responses_render(ctx.bot, ctx.room, ctx.participant, responses)
        finished.append((each, status, error, rendered))
    replies = _runs_store(finished)
    busy_rooms = rooms_busy(room_ids={each.room_id for each, *_ in finished})
    outbound_by_run: dict[int, list[OutboundMessage]] = {each.pk: [] for each in runs}
    for each, status, _, _ in finished:
        if each.pk in replies:
            outbound = outbound_by_run[each.pk] = [
                message_outbound(reply) for reply in replies[each.pk]
            ]
            _replies_broadcast(each.room_id, outbound, is_busy=each.room_id in busy_rooms)
            logger.info("action run %s: %s, %d replies", each.pk, status, len(outbound))
    return outbound_by_run, retry_countdown


def _turns_pass(*, room_ids: Collection[int], task_id: str, limit: int) -> list[int]:
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
        .exclude(Exists(_earlier_unfinished(now)))
        .order_by("id")
    )
    if not their_turn:
        return []
    claimed = _waiting_runs_claim(
        limit=limit, task_id=task_id, room_ids={run.room_id for run in their_turn}
    )
    action_runs_enqueue(runs=[run for run in their_turn if run.pk not in claimed])
    return claimed


def _run_retry_later(run: ActionRun, error: str) -> float:
    countdown = _backoff_seconds(run.attempts)
    run.run_after = timezone.now() + timedelta(seconds=countdown)
    ActionRun.objects.filter(pk=run.pk, attempts=run.attempts).update(
        status=ActionRun.Status.PENDING, last_error=error, run_after=run.run_after
    )
    return countdown


def _runs_store(
    finished: list[tuple[ActionRun, str, str, list[Response]]],
) -> dict[int, list[Message]]:
    """Finish the runs this attempt still owns and store their replies, in one
    transaction; returns the replies per run it owned."""
    replies: dict[int, list[Message]] = {}
    if not finished:
        return replies
    with transaction.atomic():
        for run, status, error, responses in finished:
            # A sweeper may have handed the run to another attempt meanwhile; then that
            # attempt owns the replies and this one stores nothing for it.
            owns_run = ActionRun.objects.filter(
                pk=run.pk, status=ActionRun.Status.RUNNING, attempts=run.attempts
            ).update(status=status, finished_at=timezone.now(), last_error=error)
            if not owns_run:
                logger.warning("action run %s: taken over by another attempt", run.pk)
                continue
            _trace_append(run, status)
            replies[run.pk] = [
                Message(
                    room=run.room,
                    sender_kind=Message.SenderKind.BOT,
                    text=response.text,
                    html=response.html,
                    reply_to_id=run.message_id,
                    # Replies are kept as long as what they answer.
                    expires_at=run.message.expires_at if run.message else None,
                )
                for response in responses
            ]
        Message.objects.bulk_create(
            [reply for run_replies in replies.values() for reply in run_replies]
        )
    return replies


def _replies_broadcast(room_id: int, replies: list[OutboundMessage], *, is_busy: bool) -> None:
    """Push the replies, with the end of the typing dots unless more calls of the room are
    due (`is_busy`), in one channel-layer message."""
    is_typing = None if is_busy else False
    if replies:
        realtime.messages_broadcast(replies, is_typing=is_typing)
    elif is_typing is False:
        realtime.typing_broadcast(room_id, is_typing=False)


def _trace_append(run: ActionRun, status: str) -> None:
    """Add where and how long the run took to its message's trace, for staff."""
    if run.message_id is None:
        return
    elapsed = (timezone.now() - run.started_at).total_seconds() if run.started_at else None
    step = {
        "stage": "execute",
        "action": run.action_name,
        "where": "worker",
        "result": status,
        "attempts": run.attempts,
        "ms": round(elapsed * 1000, 1) if elapsed is not None else None,
    }
    Message.objects.filter(pk=run.message_id).update(trace=JSONArrayAppend("trace", step))


def _batch_execute(leader: ActionRun, task_id: str) -> list[OutboundMessage]:
    """Run a room's batch as one: each distinct call once, one combined reply for all.

    The same call from several participants is answered once, addressed to all of them.
    Within a batch a failure is final (no retry): the others' answers must not wait.
    """
    members = [leader]
    for run_id in (
        ActionRun.objects.filter(
            room_id=leader.room_id,
            batch_until=leader.batch_until,
            status=ActionRun.Status.PENDING,
        )
        .order_by("id")
        .values_list("pk", flat=True)
    ):
        claimed = _turn_claim_update(
            ActionRun.objects.filter(pk=run_id, status=ActionRun.Status.PENDING), task_id
        )
        if claimed:
            members.append(
                ActionRun.objects.select_related("participant", "action", "message").get(pk=run_id)
            )
    groups: dict[tuple[int | None, str], list[ActionRun]] = {}
    for run in members:
        key = (run.action_id, json.dumps(run.arguments, sort_keys=True))
        groups.setdefault(key, []).append(run)
    texts, htmls, outcomes = [], [], {}
    for runs in groups.values():
        status, error, responses, ctx = _run_action(runs[0])
        if status == ActionRun.Status.PENDING:
            status, responses = ActionRun.Status.FAILED, [_failure_response(error)]
        names = list(dict.fromkeys(str(run.participant) for run in runs if run.participant))
        addressee = ctx.participant if len(names) == 1 else None
        rendered = responses_render(ctx.bot, ctx.room, addressee, responses)
        text = "\n".join(response.text for response in rendered)
        texts.append(f"{', '.join(names)}: {text}" if len(names) > 1 else text)
        htmls += [response.html for response in rendered if response.html]
        outcomes.update({run.pk: (status, error) for run in runs})
    with transaction.atomic():
        owned = [
            run
            for run in members
            if ActionRun.objects.filter(
                pk=run.pk, status=ActionRun.Status.RUNNING, attempts=run.attempts
            ).update(
                status=outcomes[run.pk][0],
                finished_at=timezone.now(),
                last_error=outcomes[run.pk][1],
            )
        ]
        if leader not in owned:
            transaction.set_rollback(True)
            logger.warning("batch of run %s: taken over by another attempt", leader.pk)
            return []
        reply = Message.objects.create(
            room_id=leader.room_id,
            sender_kind=Message.SenderKind.BOT,
            text="\n\n".join(texts),
            html="<br><br>".join(htmls),
            reply_to_id=leader.message_id,
            expires_at=leader.message.expires_at if leader.message else None,
        )
    _turns_pass(room_ids={leader.room_id}, task_id=task_id, limit=0)
    outbound = message_outbound(reply)
    _replies_broadcast(leader.room_id, [outbound], is_busy=room_is_busy(room_id=leader.room_id))
    logger.info("batch of run %s: %d runs, %d distinct calls", leader.pk, len(members), len(groups))
    return [outbound]


def action_calls_run_inline(
    *, calls: Sequence[ActionCall], ctx: ActionContext
) -> tuple[list[Response], list[dict[str, object]]]:
    """Run cheap, pure calls here and now; return their replies and trace steps."""
    responses: list[Response] = []
    trace: list[dict[str, object]] = []
    for call in calls:
        started = time.perf_counter()
        try:
            responses += action_types.get(call.action.kind)(dict(call.action.config)).run(call, ctx)
            result = "succeeded"
        except ActionFailed as failure:
            responses.append(_failure_response(failure.detail))
            result = "failed"
        except Exception:
            logger.exception("inline action %s (%s) crashed", call.action.name, call.action.kind)
            responses.append(Response(text=GENERIC_FAILURE, template="action_failed"))
            result = "failed"
        trace.append(
            {
                "stage": "execute",
                "action": call.action.name,
                "where": "inline",
                "result": result,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )
    return responses, trace


def _failure_response(reason: str) -> Response:
    return Response(text=f"Sorry, {reason}", template="action_failed", values={"reason": reason})


def _run_action(run: ActionRun) -> tuple[str, str, list[Response], ActionContext]:
    """Run the action; return the run's next status, its error, the replies, the context."""
    ctx = ActionContext(
        bot=bot_snapshot_get(bot=run.bot),
        room=room_info(run.room),
        participant=participant_info(run.participant) if run.participant else None,
        posts=PostsFromDatabase(bot_id=run.bot_id),
        memory=MemoryFromDatabase(
            bot_id=run.bot_id, room_id=run.room_id, participant_id=run.participant_id
        ),
        participants=ParticipantsFromDatabase(room=run.room),
        room_state=RoomFromDatabase(room=run.room),
        schedule=ScheduleFromDatabase(room_id=run.room_id, participant_id=run.participant_id),
        http=HttpThroughBotsite(),
        subscriptions=SubscriptionsFromDatabase(room=run.room, participant=run.participant),
    )
    action = run.action
    if action is None or action.kind not in action_types:
        error = f"action {run.action_name!r} is no longer available"
        return ActionRun.Status.FAILED, error, [Response(text=f"Sorry, {error}.")], ctx
    call = ActionCall(
        action=action_snapshot(action), arguments=run.arguments, source=f"run:{run.pk}"
    )
    try:
        responses = action_types.get(action.kind)(dict(action.config)).run(call, ctx)
    except ActionFailed as failure:
        if failure.retryable and run.attempts < MAX_ATTEMPTS:
            return ActionRun.Status.PENDING, failure.detail, [], ctx
        return ActionRun.Status.FAILED, failure.detail, [_failure_response(failure.detail)], ctx
    except Exception as error:
        logger.exception("action run %s (%s) crashed", run.pk, action.kind)
        crashed = Response(text=GENERIC_FAILURE, template="action_failed")
        return ActionRun.Status.FAILED, f"{type(error).__name__}: {error}", [crashed], ctx
    return ActionRun.Status.SUCCEEDED, "", responses, ctx


def _backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter: spread retries so they do not arrive in herds."""
    return random.uniform(0, min(300, 2**attempts))  # noqa: S311 (jitter, not a secret)


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
