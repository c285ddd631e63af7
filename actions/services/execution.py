"""Running claimed runs: the action with its ports, the replies stored in one
transaction by the attempt that still owns the run, and pushed to the room; runs in a
batching window as one; cheap pure calls inline, on the message's own path."""

import json
import logging
import random
import time
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from actions.base import ActionContext
from actions.exceptions import ActionFailed, ActionRunRetry
from actions.models import ActionRun
from actions.ports import HttpThroughBotsite, ScheduleFromDatabase
from actions.registry import action_types
from actions.selectors import room_is_busy, rooms_busy
from actions.services.claims import (
    run_claim_after_checks,
    run_claim_if_its_turn,
    runs_load,
    runs_take_back,
    turn_claim_update,
    turns_pass,
    waiting_runs_claim,
)
from actions.services.queue import action_runs_enqueue
from actions.snapshots import action_snapshot, bot_snapshot_get
from botsite.expressions import JSONArrayAppend
from conversations import realtime
from conversations.models import Message
from conversations.ports import MemoryFromDatabase, ParticipantsFromDatabase, RoomFromDatabase
from conversations.selectors import message_outbound, participant_info, room_info
from engine.messages import ActionCall, OutboundMessage, Response
from engine.render import responses_render
from publishers.ports import SubscriptionsFromDatabase
from publishers.selectors import PostsFromDatabase

logger = logging.getLogger(__name__)


MAX_ATTEMPTS = 5


GENERIC_FAILURE = "Sorry, something went wrong while doing that."


def action_run_execute(*, run_id: int, task_id: str = "") -> list[OutboundMessage]:
    """Claim a pending run, run its action, store the replies and push them to the room;
    return the run's replies.

    Safe to call twice or concurrently: only the caller that moves the run from pending to
    running goes on, and only the attempt that still owns the run may store its replies.
    Runs of one room run in the order they were written: while an earlier run of the room
    that is due has not finished, this one waits its turn, with no task of its own: the
    call returns, and whoever finishes the earlier run passes the turn on (`turns_pass`).
    Raises `ActionRunRetry` when the task came early or the action failed retryably.

    Under load the call also takes other due runs still waiting for a worker (up to
    `ACTION_RUN_CLAIM_MAX` in all) and stores all their replies in one transaction, as
    the chat's intake stores messages; their own tasks then find nothing to do.

    `task_id` names the worker task calling: the runs it claims carry it, and a later call
    with the same id (the task delivered again after its worker died) takes back the runs
    still held in its name before it claims anything.
    """
    runs_take_back(task_id)
    if not run_claim_if_its_turn(run_id, task_id) and not run_claim_after_checks(run_id, task_id):
        return []
    (run,) = runs_load([run_id])
    if run.batch_until is not None:
        return _batch_execute(run, task_id)
    others = runs_load(waiting_runs_claim(limit=settings.ACTION_RUN_CLAIM_MAX - 1, task_id=task_id))
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
    runs_take_back(task_id)
    claimed = waiting_runs_claim(
        limit=max(settings.ACTION_RUN_CLAIM_MAX, len(run_ids)), first=run_ids, task_id=task_id
    )
    runs = runs_load(claimed)
    return _runs_finish(runs, task_id=task_id) if runs else {}


def _runs_finish(
    runs: list[ActionRun], *, task_id: str, own: ActionRun | None = None
) -> dict[int, list[OutboundMessage]]:
    """Run claimed runs' actions, store their replies in one transaction and push them to
    their rooms, then go on with the runs whose turn that gave (`turns_pass`), up to
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
        next_ids = turns_pass(
            room_ids={each.room_id for each in runs},
            task_id=task_id,
            limit=settings.ACTION_RUN_CLAIM_MAX - taken,
        )
        runs = runs_load(next_ids)
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
        claimed = turn_claim_update(
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
    turns_pass(room_ids={leader.room_id}, task_id=task_id, limit=0)
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
