"""A message's way in: identified, decided by the engine, stored with its replies and
runs, answered; many at once in one lookup and one transaction (the chat's group commit),
each still failing alone. Where each of its calls runs is `chat/dispatch.py`'s call.

About 400 lines on purpose: the batch's lookup, decisions and store, and the one-by-one
fallback of each, are one algorithm over two private types (`_Conversation`,
`_Decision`); split, each half would reach into the other's.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from actions.base import ActionContext
from actions.models import ActionRun
from actions.registry import action_types
from actions.services import (
    action_runs_build,
    action_runs_store,
    pending_call_get,
    pending_call_save,
)
from actions.snapshots import bot_snapshot_get
from chat.dispatch import calls_dispatch
from chat.lookups import ConversationKey, ConversationRow, conversation_rows_get
from conversations.exceptions import BotNotFound
from conversations.middleware.registry import middleware_stage
from conversations.models import Bot, Message, Participant, Room
from conversations.ports import CountersFromCache, TokenBucketsInCache
from conversations.selectors import message_outbound, participant_info, room_info
from conversations.services.rooms import (
    bot_get_enabled,
    bot_not_found,
    participant_identify,
    participant_seen,
    room_open,
)
from engine.messages import ActionCall, InboundMessage, OutboundMessage, Outcome, Response
from engine.pipeline import message_process
from engine.render import responses_render

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessageReceipt:
    """What `message_receive` stored: the message, replies decided at once, runs queued."""

    message: OutboundMessage
    replies: list[OutboundMessage] = field(default_factory=list)
    queued_runs: int = 0
    is_duplicate: bool = False
    #: Some queued call is due now (not "in 20 minutes"): the bot is working on an answer.
    is_bot_working: bool = False


@dataclass(frozen=True)
class _Conversation:
    """Where an inbound message belongs, with what its path asks of the database."""

    bot: Bot
    room: Room
    participant: Participant
    #: The room has queued calls not finished yet: new calls queue behind them.
    has_backlog: bool
    #: A question waits for this participant's answer in this room.
    has_pending: bool
    #: The message stored earlier under the same `client_id` (a resend), if any.
    duplicate_id: int | None


def _conversation_key(inbound: InboundMessage) -> ConversationKey:
    return ConversationKey(
        bot_slug=inbound.bot_slug,
        connector=inbound.connector,
        room_external_id=inbound.room_external_id,
        participant_external_id=inbound.participant_external_id,
        client_id=inbound.client_id,
    )


def _conversation_load(inbound: InboundMessage, row: ConversationRow | None) -> _Conversation:
    """Bot, room and participant from the lookup's row (`chat/lookups.py`), with
    the backlog, the open question and the resend check folded in; the room and the
    participant are created here on first contact."""
    if row is None:
        bot = bot_get_enabled(slug=inbound.bot_slug)
        room = room_open(
            bot=bot,
            connector=inbound.connector,
            external_id=inbound.room_external_id,
            is_direct=inbound.is_direct,
        )
        # A resend racing its own room's creation is caught by the client_id constraint.
        has_backlog, duplicate_id = False, None
    else:
        bot, room = row.bot, row.room
        has_backlog, duplicate_id = row.has_backlog, row.duplicate_id
        if not bot.is_enabled:
            raise bot_not_found(inbound.bot_slug)
    if row is None or row.participant is None:
        participant = participant_identify(
            bot=bot,
            connector=inbound.connector,
            external_id=inbound.participant_external_id,
            name=inbound.participant_name,
            user_id=inbound.user_id,
        )
        has_pending = False
    else:
        participant, has_pending = row.participant, row.has_pending
        participant_seen(participant)
    return _Conversation(bot, room, participant, has_backlog, has_pending, duplicate_id)


def _args_type_for(kind: str) -> type | None:
    return action_types.get(kind).Args if kind in action_types else None


@dataclass
class _Decision:
    """What the engine made of one message, before anything of it is stored."""

    inbound: InboundMessage
    conversation: _Conversation
    outcome: Outcome
    responses: list[Response]
    queued: list[ActionCall]
    expires_at: datetime | None


def message_receive(*, inbound: InboundMessage) -> MessageReceipt:
    """Store an inbound message, let the engine decide, store replies and queue actions.

    A message resent with the same `client_id` in the same room is stored once and answered
    once; the repeat gets a receipt marked `is_duplicate`.
    """
    [result] = messages_receive(inbounds=[inbound])
    if isinstance(result, Exception):
        raise result
    return result


def messages_receive(*, inbounds: Sequence[InboundMessage]) -> list[MessageReceipt | Exception]:
    """`message_receive` for many messages at once, with the database work shared: one
    lookup for all of them and one transaction that stores them all (group commit).

    Each message gets its own result, in order: its receipt, or the error that stopped it
    (`BotNotFound`, a fault while the engine decided or while it was stored), which
    concerns that message alone: a batch whose lookup or transaction fails is done again
    one message at a time, so only the messages that fail alone fail (unless the database
    is unreachable, for the batch and again for a message alone: then the rest get that
    error at once). Messages to one room
    are taken one after another, each after the previous one is stored, so each sees the
    room as the one before left it.
    """
    results: list[MessageReceipt | Exception | None] = [None] * len(inbounds)
    for round_indexes in _rounds_one_per_room(inbounds):
        rows = _rows_lookup([inbounds[i] for i in round_indexes])
        decided: list[tuple[int, _Decision]] = []
        for index, row in zip(round_indexes, rows, strict=True):
            inbound = inbounds[index]
            if isinstance(row, Exception):
                results[index] = row
                continue
            try:
                conversation = _conversation_load(inbound, row)
                if conversation.duplicate_id is not None:
                    results[index] = _duplicate_receipt(conversation.duplicate_id)
                    continue
                decided.append((index, _message_decide(inbound, conversation)))
            except BotNotFound as error:
                results[index] = error
            except Exception as error:
                # One message's fault must not cost the others in its batch their answer;
                # it reaches that message's caller, who raises it.
                results[index] = error
        receipts = _decisions_store([decision for _, decision in decided])
        for (index, _), receipt in zip(decided, receipts, strict=True):
            results[index] = receipt
    return [result for result in results if result is not None]


def _rounds_one_per_room(inbounds: Sequence[InboundMessage]) -> list[list[int]]:
    """The messages' indexes in rounds holding at most one message per room, in order."""
    rounds: list[list[int]] = []
    round_of_room: dict[tuple[str, str, str], int] = {}
    for index, inbound in enumerate(inbounds):
        room = (inbound.bot_slug, inbound.connector, inbound.room_external_id)
        number = round_of_room.get(room, -1) + 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(index)
        round_of_room[room] = number
    return rounds


def _message_decide(inbound: InboundMessage, conversation: _Conversation) -> _Decision:
    """Let the engine decide, and run the cheap pure calls here (nothing is stored yet)."""
    room, participant = conversation.room, conversation.participant
    snapshot = bot_snapshot_get(bot=conversation.bot)
    room_view, participant_view = room_info(room), participant_info(participant)
    outcome = message_process(
        snapshot,
        room_view,
        participant_view,
        inbound.text,
        args_type_for=_args_type_for,
        middleware_stage=middleware_stage,
        pending=pending_call_get(room=room, participant=participant)
        if conversation.has_pending
        else None,
        counters=CountersFromCache(),
        buckets=TokenBucketsInCache(),
        is_addressed=inbound.is_addressed,
    )
    expires_at = (
        timezone.now() + timedelta(seconds=outcome.retention_seconds)
        if outcome.retention_seconds
        else None
    )
    dispatch = calls_dispatch(
        outcome.calls,
        room=room,
        has_backlog=conversation.has_backlog,
        ctx=ActionContext(bot=snapshot, room=room_view, participant=participant_view),
    )
    outcome.trace += dispatch.trace
    responses = responses_render(
        snapshot, room_view, participant_view, [*outcome.responses, *dispatch.responses]
    )
    return _Decision(inbound, conversation, outcome, responses, dispatch.queued, expires_at)


def _rows_lookup(inbounds: list[InboundMessage]) -> list[ConversationRow | Exception | None]:
    """The lookup of a round's messages in one statement; should it fail, one statement per
    message, so that a message the database refuses fails alone."""
    keys = [_conversation_key(inbound) for inbound in inbounds]
    try:
        return list(conversation_rows_get(keys))
    except Exception as error:
        if len(keys) == 1:
            return [error]
        logger.warning("lookup of %d messages failed; looking them up one by one", len(keys))
        return _each_alone(keys, _row_lookup_alone, batch_error=error)


def _row_lookup_alone(key: ConversationKey) -> ConversationRow | Exception | None:
    try:
        # A savepoint: in a caller's transaction a failed statement would spoil the rest.
        with transaction.atomic():
            return conversation_rows_get([key])[0]
    except Exception as error:
        return error


def _decisions_store(decisions: list[_Decision]) -> list[MessageReceipt | Exception]:
    """Store the decided messages in one transaction. Should it fail (a resend racing its
    twin on another socket, a value the database refuses, anything), each is stored again
    on its own, so only the one at fault fails or turns into a duplicate receipt."""
    if not decisions:
        return []
    try:
        with transaction.atomic():
            return list(_decisions_write(decisions))
    except Exception as error:
        if len(decisions) == 1:
            return [_store_failure_result(decisions[0], error)]
        logger.warning("a batch of %d messages failed; storing them one by one", len(decisions))
        return _each_alone(decisions, _decision_store_alone, batch_error=error)


def _decision_store_alone(decision: _Decision) -> MessageReceipt | Exception:
    try:
        with transaction.atomic():
            return _decisions_write([decision])[0]
    except Exception as error:
        return _store_failure_result(decision, error)


def _store_failure_result(decision: _Decision, error: Exception) -> MessageReceipt | Exception:
    """What a message whose store failed comes to: the receipt of its twin when a resend
    on another socket was stored first, else the error itself."""
    if not isinstance(error, IntegrityError):
        return error
    try:
        return _resend_receipt(decision, error)
    except Exception as fault:
        return fault


T = TypeVar("T")


R = TypeVar("R")


def _each_alone(
    items: list[T], attempt: Callable[[T], R | Exception], *, batch_error: Exception
) -> list[R | Exception]:
    """`attempt` for each item on its own. When the database is unreachable for the batch
    and again for an item alone, that is no item's fault: the rest get that error at once,
    rather than each waiting for the same failure."""
    results: list[R | Exception] = []
    for item in items:
        result = attempt(item)
        results.append(result)
        if isinstance(result, Exception) and all(
            isinstance(error, OperationalError | InterfaceError) for error in (batch_error, result)
        ):
            results += [result] * (len(items) - len(results))
            break
    return results


def _resend_receipt(decision: _Decision, error: IntegrityError) -> MessageReceipt:
    """The receipt of a message whose store broke a constraint: a twin resent at once on
    another socket was stored first. Any other broken constraint is a fault, raised."""
    stored = _message_id_by_client_id(decision.conversation.room, decision.inbound)
    if stored is None:
        raise error
    return _duplicate_receipt(stored)


def _decisions_write(decisions: list[_Decision]) -> list[MessageReceipt]:
    """The rows of the decided messages: two multi-row inserts whatever their number,
    then their queued runs and open questions. Runs inside the caller's transaction."""
    messages = Message.objects.bulk_create(
        Message(
            room=decision.conversation.room,
            sender_kind=Message.SenderKind.PARTICIPANT,
            participant=decision.conversation.participant,
            text=decision.inbound.text,
            client_id=decision.inbound.client_id,
            trace=decision.outcome.trace,
            expires_at=decision.expires_at,
        )
        for decision in decisions
    )
    replies = Message.objects.bulk_create(
        Message(
            room=decision.conversation.room,
            sender_kind=Message.SenderKind.BOT,
            text=response.text,
            html=response.html,
            reply_to=message,
            expires_at=decision.expires_at,
        )
        for decision, message in zip(decisions, messages, strict=True)
        for response in decision.responses
    )
    receipts = []
    all_runs: list[ActionRun] = []
    replies_left = iter(replies)
    for decision, message in zip(decisions, messages, strict=True):
        conversation, outcome = decision.conversation, decision.outcome
        room, participant = conversation.room, conversation.participant
        runs = action_runs_build(
            bot=conversation.bot,
            room=room,
            participant=participant,
            message=message,
            calls=decision.queued,
            batch_window_ms=room.effective_batch_window_ms,
        )
        all_runs += runs
        if outcome.is_pending_done or outcome.pending is not None:
            pending_call_save(
                room=room,
                participant=participant,
                pending=outcome.pending,
                timeout_seconds=conversation.bot.pending_timeout_seconds,
            )
        message_replies = [next(replies_left) for _ in decision.responses]
        logger.info(
            "bot %s room %s message %s: %d replies, %d runs queued",
            conversation.bot.slug,
            room.pk,
            message.pk,
            len(message_replies),
            len(runs),
        )
        receipts.append(
            MessageReceipt(
                message=message_outbound(message),
                replies=[message_outbound(reply) for reply in message_replies],
                queued_runs=len(runs),
                is_bot_working=any(not call.delay_seconds for call in decision.queued),
            )
        )
    # One insert for every message's runs, and one hand-over to the broker on commit.
    action_runs_store(all_runs)
    return receipts


def _message_id_by_client_id(room: Room, inbound: InboundMessage) -> int | None:
    if inbound.client_id is None:
        return None
    return (
        Message.objects.filter(room=room, client_id=inbound.client_id)
        .values_list("pk", flat=True)
        .first()
    )


def _duplicate_receipt(message_id: int) -> MessageReceipt:
    existing = Message.objects.select_related("participant", "room__bot").get(pk=message_id)
    return MessageReceipt(message=message_outbound(existing), is_duplicate=True)
