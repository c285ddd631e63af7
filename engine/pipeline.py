"""One message through the engine: middleware, then parsing into calls and replies."""

import logging

from engine.messages import Outcome, ParticipantInfo, PendingCall, Response, RoomInfo
from engine.middleware import (
    CounterPort,
    MiddlewareContext,
    MiddlewareDrop,
    MiddlewareMessage,
    StageFor,
    TokenBucketPort,
)
from engine.numbers import duration_text
from engine.parse import (
    ArgsTypeFor,
    addressed_text,
    command_parse,
    command_split,
    continuation_parse,
    help_command,
    hint_after,
    patterns_parse,
    pending_drop,
)
from engine.snapshots import BotSnapshot

logger = logging.getLogger(__name__)


def middleware_run(
    ctx: MiddlewareContext, text: str, outcome: Outcome, middleware_stage: StageFor
) -> MiddlewareMessage | None:
    """Pass the text through the bot's stack; None when a stage dropped it."""
    bot = ctx.bot
    message = MiddlewareMessage(text=text)
    for stage in bot.middleware:
        runner = middleware_stage(stage)
        if runner is None:
            # A stage whose type was removed must not silently open the gate it guarded.
            logger.error("bot %s: middleware type %r is not installed", bot.slug, stage.kind)
            outcome.note("middleware", kind=stage.kind, result="unavailable")
            return None
        result = runner.process(message, ctx)
        if isinstance(result, MiddlewareDrop):
            outcome.note("middleware", kind=stage.kind, result="dropped", replied=True)
            outcome.responses.append(result.reply)
            return None
        if result is None:
            outcome.note("middleware", kind=stage.kind, result="dropped")
            return None
        outcome.note(
            "middleware", kind=stage.kind, result="changed" if result != message else "passed"
        )
        message = result
    return message


def message_process(
    bot: BotSnapshot,
    room: RoomInfo,
    participant: ParticipantInfo,
    text: str,
    *,
    args_type_for: ArgsTypeFor,
    middleware_stage: StageFor,
    pending: PendingCall | None = None,
    counters: CounterPort | None = None,
    buckets: TokenBucketPort | None = None,
    is_addressed: bool = False,
) -> Outcome:
    """Decide what to do with one message: which actions to call, what to answer at once.

    `args_type_for` and `middleware_stage` are the plugins' part: the arguments an action
    type takes, the stage a middleware row configures. `pending` is the call waiting for
    this participant's answer in this room, if any: the message answers it before anything
    else is tried, unless it is a command. A command always runs, and ends the question
    with a word saying so. `is_addressed`: the network said the message was meant for the
    bot (`InboundMessage.is_addressed`).
    """
    outcome = Outcome()
    ctx = MiddlewareContext(
        bot=bot, room=room, participant=participant, counters=counters, buckets=buckets
    )
    passed = middleware_run(ctx, text, outcome, middleware_stage)
    if passed is None:
        outcome.is_dropped = True
        return outcome
    outcome.retention_seconds = passed.retention_seconds
    processed = passed.text
    if pending is not None and command_split(bot, processed) is None:
        continuation_parse(pending, processed, outcome, args_type_for)
        return outcome
    if pending is not None:
        pending_drop(pending, outcome)
    if command_parse(bot, participant, processed, outcome, args_type_for):
        return _scheduled_acknowledge(outcome)
    addressed = addressed_text(bot, room, processed, is_addressed=is_addressed)
    if addressed is None:
        outcome.note("parse", parser="none", reason="not addressed")
        return outcome
    if patterns_parse(bot, participant, addressed, outcome, args_type_for):
        return _scheduled_acknowledge(outcome)
    outcome.note("parse", parser="fallback")
    help_word = help_command(bot, participant)
    fallback = bot.fallback_text or hint_after("I didn't understand that.", help_word)
    outcome.responses.append(
        Response(text=fallback, template="fallback", values={"help_command": help_word})
    )
    return outcome


def _scheduled_acknowledge(outcome: Outcome) -> Outcome:
    """Calls for later get an answer now, so the participant knows they were understood."""
    for call in outcome.calls:
        if call.delay_seconds:
            when = duration_text(call.delay_seconds)
            outcome.note("schedule", action=call.action.name, delay_seconds=call.delay_seconds)
            outcome.responses.append(
                Response(
                    text=f"OK, in {when}.",
                    template="scheduled",
                    values={"when": when, "action": call.action.name},
                )
            )
    return outcome
