"""Finding action calls in a message's text."""

import re
from collections.abc import Callable, Mapping
from typing import Any

from engine.arguments import (
    ArgumentError,
    MissingArguments,
    argument_convert,
    arguments_bind,
    arguments_from_groups,
    arguments_missing,
    arguments_to_ask,
    arguments_usage,
    sentence_end_strip,
)
from engine.messages import ActionCall, Outcome, ParticipantInfo, PendingCall, Response, RoomInfo
from engine.numbers import duration_parse
from engine.patterns import patterns_match
from engine.snapshots import ActionSnapshot, BotSnapshot

#: Gives the `Args` dataclass of an action type by key, or None when the type is gone.
ArgsTypeFor = Callable[[str], type | None]


LATER = re.compile(r"^(?P<text>.*?)[\s,]+in\s+(?P<when>[\w\s.-]+?)[\s.!?]*$", re.IGNORECASE)
MAX_DELAY_SECONDS = 365 * 86_400


def later_split(text: str) -> tuple[str, int]:
    """ "tell me the weather in 20 minutes" → ("tell me the weather", 1200); else (text, 0)."""
    match = LATER.match(text)
    if match is None:
        return text, 0
    seconds = duration_parse(match.group("when"))
    if seconds is None or not 0 < seconds <= MAX_DELAY_SECONDS:
        return text, 0
    return match.group("text"), seconds


def command_split(bot: BotSnapshot, text: str) -> tuple[str, str] | None:
    """`!Help me.` → ("help", "me"); None when the text is not a command."""
    if not text.startswith(bot.command_prefix):
        return None
    word, _, rest = text[len(bot.command_prefix) :].partition(" ")
    word = sentence_end_strip(word).strip().lower()
    return (word, rest.strip()) if word else None


#: The action type whose command lists the others: the one replies may point to.
HELP_KIND = "help"


def help_command(bot: BotSnapshot, participant: ParticipantInfo) -> str:
    """The command that lists the bot's commands, as the participant types it (`!help`),
    or "" when the bot has none they may use: no reply points to a command it lacks."""
    helps = sorted(
        (word != "help", word)
        for word, command in bot.commands.items()
        if command.action.kind == HELP_KIND and participant.trust_level >= command.action.min_trust
    )
    return f"{bot.command_prefix}{helps[0][1]}" if helps else ""


def hint_after(text: str, help_word: str) -> str:
    """ "I don't know !x." + " Try !help." when there is a help to try."""
    return f"{text} Try {help_word}." if help_word else text


def addressed_text(
    bot: BotSnapshot, room: RoomInfo, text: str, *, is_addressed: bool = False
) -> str | None:
    """The text meant for the bot, without its name: "Hey bot, get me…" → "get me…".

    None when the bot is not addressed: free text counts in one-to-one rooms, when a
    message starts with one of the bot's names, or when its network said it was meant for
    the bot (`is_addressed`: "botsite: …" to the bot's IRC nick, its name stripped there).
    """
    for name in sorted(bot.names, key=len, reverse=True):
        if name and re.match(rf"{re.escape(name)}\b[\s,:;!.-]*", text, re.IGNORECASE):
            return re.sub(rf"^{re.escape(name)}\b[\s,:;!.-]*", "", text, flags=re.IGNORECASE)
    return text if room.is_direct or is_addressed else None


def command_parse(
    bot: BotSnapshot,
    participant: ParticipantInfo,
    text: str,
    outcome: Outcome,
    args_type_for: ArgsTypeFor,
) -> bool:
    """Turn a command into a call, or a reply saying why not. Returns whether it was one."""
    split = command_split(bot, text)
    if split is None:
        return False
    word, rest = split
    rest, delay = later_split(rest)
    prefix = bot.command_prefix
    command = bot.commands.get(word)
    if command is None and word in bot.custom_commands:
        outcome.note("parse", parser="custom_command", word=word)
        outcome.responses.append(Response(text=bot.custom_commands[word]))
        return True
    name = f"{prefix}{word}"

    def refuse(reason: str, template: str, text: str) -> bool:
        outcome.note("parse", parser="command", word=word, refused=reason)
        outcome.responses.append(
            Response(
                text=text,
                template=template,
                values={"command": name, "help_command": help_command(bot, participant)},
            )
        )
        return True

    if command is None:
        unknown = hint_after(f"I don't know {name}.", help_command(bot, participant))
        return refuse("unknown", "unknown_command", unknown)
    action = command.action
    if participant.trust_level < action.min_trust:
        return refuse("trust", "needs_trust", f"Sorry, {name} needs more trust than you have here.")
    args_type = args_type_for(action.kind)
    if args_type is None:
        return refuse("unavailable", "unavailable", f"Sorry, {name} is not available right now.")
    try:
        arguments = arguments_bind(args_type, command.arguments, rest)
    except MissingArguments as missing:
        if _ask_for_missing(action, args_type, missing.values, f"command:{word}", outcome):
            return True
        error: ArgumentError = missing
        outcome.note("parse", parser="command", word=word, refused="arguments", error=str(error))
        outcome.responses.append(_bad_arguments(error, prefix, word, args_type))
        return True
    except ArgumentError as error:
        outcome.note("parse", parser="command", word=word, refused="arguments", error=str(error))
        outcome.responses.append(_bad_arguments(error, prefix, word, args_type))
        return True
    if _ask_for_missing(action, args_type, arguments, f"command:{word}", outcome):
        return True
    outcome.note("parse", parser="command", word=word, action=action.name, arguments=arguments)
    outcome.calls.append(
        ActionCall(
            action=action, arguments=arguments, source=f"command:{word}", delay_seconds=delay
        )
    )
    return True


def patterns_parse(
    bot: BotSnapshot,
    participant: ParticipantInfo,
    text: str,
    outcome: Outcome,
    args_type_for: ArgsTypeFor,
) -> bool:
    """Turn every pattern match into a call (or a reply saying why not). Returns if any."""
    text, delay = later_split(text)
    matches = patterns_match(bot.patterns, text)
    for match in matches:
        action = match.pattern.action
        step = {"parser": "pattern", "pattern": match.pattern.id, "groups": dict(match.groups)}
        if participant.trust_level < action.min_trust:
            outcome.note("parse", **step, refused="trust")
            outcome.responses.append(
                Response(text="Sorry, you need more trust for that.", template="needs_trust")
            )
            continue
        args_type = args_type_for(action.kind)
        if args_type is None:
            outcome.note("parse", **step, refused="unavailable")
            outcome.responses.append(
                Response(text="Sorry, I can't do that right now.", template="unavailable")
            )
            continue
        source = f"pattern:{match.pattern.id}"
        try:
            arguments = arguments_from_groups(args_type, match.pattern.arguments, match.groups)
        except MissingArguments as missing:
            if not _ask_for_missing(action, args_type, missing.values, source, outcome):
                outcome.note("parse", **step, refused="arguments", error=str(missing))
                outcome.responses.append(_did_not_get(missing))
            continue
        except ArgumentError as error:
            outcome.note("parse", **step, refused="arguments", error=str(error))
            outcome.responses.append(_did_not_get(error))
            continue
        if _ask_for_missing(action, args_type, arguments, source, outcome):
            continue
        outcome.note("parse", **step, action=action.name, arguments=arguments)
        outcome.calls.append(
            ActionCall(action=action, arguments=arguments, source=source, delay_seconds=delay)
        )
    return bool(matches)


def _bad_arguments(error: ArgumentError, prefix: str, word: str, args_type: type) -> Response:
    usage = arguments_usage(args_type)
    return Response(
        text=f"{error} Usage: {prefix}{word} {usage}".rstrip(),
        template="bad_arguments",
        values={"command": f"{prefix}{word}", "error": str(error), "usage": usage},
    )


def _did_not_get(error: ArgumentError) -> Response:
    return Response(
        text=f"Sorry, I didn't get that: {error}",
        template="bad_arguments",
        values={"error": str(error)},
    )


def _ask_for_missing(
    action: ActionSnapshot,
    args_type: type,
    values: Mapping[str, Any],
    source: str,
    outcome: Outcome,
) -> bool:
    """Ask for the first argument left out that staff gave a prompt for, required or
    optional. Returns if asked; not when a required one left out has no prompt (the call
    cannot be made, say why instead).

    Only one question can be open per participant and room, so a second one in the same
    message is not asked.
    """
    if outcome.pending is not None:
        return False
    if any(name not in action.prompts for name in arguments_missing(args_type, values)):
        return False
    to_ask = arguments_to_ask(args_type, values, action.prompts)
    if not to_ask:
        return False
    outcome.pending = PendingCall(
        action=action, arguments=dict(values), missing=to_ask[0], source=source
    )
    outcome.note("parse", parser="prompt", action=action.name, missing=to_ask[0])
    outcome.responses.append(Response(text=outcome.pending.prompt))
    return True


CANCEL_WORDS = {"cancel", "stop", "never mind", "nevermind", "forget it"}


def pending_drop(pending: PendingCall, outcome: Outcome) -> None:
    """A command came instead of an answer: it runs, and the question ends, with a note
    before the command's own replies.

    Asking again after the command cannot be promised: its replies may come later from a
    worker, and it may ask a question of its own (one is open per participant and room).
    """
    outcome.is_pending_done = True
    outcome.note("parse", parser="continuation", action=pending.action.name, result="dropped")
    outcome.responses.append(
        Response(
            text=f"OK, I won't wait for your answer to “{pending.prompt}” any more.",
            template="pending_dropped",
            values={"prompt": pending.prompt, "action": pending.action.name},
        )
    )


def continuation_parse(
    pending: PendingCall, text: str, outcome: Outcome, args_type_for: ArgsTypeFor
) -> None:
    """The participant answers the question a waiting call asked; fill it, ask again or run."""
    action = pending.action
    args_type = args_type_for(action.kind)
    if text.strip().lower().rstrip(".!") in CANCEL_WORDS or args_type is None:
        outcome.is_pending_done = True
        outcome.note("parse", parser="continuation", action=action.name, result="cancelled")
        outcome.responses.append(Response(text="OK, cancelled.", template="pending_cancelled"))
        return
    try:
        value = argument_convert(args_type, pending.missing, text)
    except ArgumentError as error:
        outcome.note("parse", parser="continuation", action=action.name, refused=str(error))
        outcome.responses.append(
            Response(
                text=f"{error} {pending.prompt} (or say cancel)",
                template="prompt_again",
                values={"error": str(error), "prompt": pending.prompt},
            )
        )
        return
    arguments = {**pending.arguments, pending.missing: value}
    outcome.is_pending_done = True
    if _ask_for_missing(action, args_type, arguments, pending.source, outcome):
        return
    still_missing = arguments_missing(args_type, arguments)
    if still_missing:
        outcome.responses.append(_did_not_get(MissingArguments(arguments, still_missing)))
        return
    outcome.note("parse", parser="continuation", action=action.name, arguments=arguments)
    outcome.calls.append(ActionCall(action=action, arguments=arguments, source=pending.source))
