"""Finding action calls in a message's text."""

import re
from collections.abc import Callable

from conversations.engine.arguments import (
    ArgumentError,
    arguments_bind,
    arguments_from_groups,
    arguments_usage,
)
from conversations.engine.messages import (
    ActionCall,
    BotSnapshot,
    Outcome,
    ParticipantInfo,
    Response,
    RoomInfo,
)
from conversations.engine.patterns import patterns_match

#: Gives the `Args` dataclass of an action type by key, or None when the type is gone.
ArgsTypeFor = Callable[[str], type | None]


def command_split(bot: BotSnapshot, text: str) -> tuple[str, str] | None:
    """`!Help me` → ("help", "me"); None when the text is not a command."""
    if not text.startswith(bot.command_prefix):
        return None
    word, _, rest = text[len(bot.command_prefix) :].partition(" ")
    word = word.strip().lower()
    return (word, rest.strip()) if word else None


def addressed_text(bot: BotSnapshot, room: RoomInfo, text: str) -> str | None:
    """The text meant for the bot, without its name: "Hey bot, get me…" → "get me…".

    None when the bot is not addressed: free text counts in one-to-one rooms, or when a
    message starts with one of the bot's names.
    """
    for name in sorted(bot.names, key=len, reverse=True):
        if name and re.match(rf"{re.escape(name)}\b[\s,:;!.-]*", text, re.IGNORECASE):
            return re.sub(rf"^{re.escape(name)}\b[\s,:;!.-]*", "", text, flags=re.IGNORECASE)
    return text if room.is_direct else None


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
    prefix = bot.command_prefix
    command = bot.commands.get(word)
    if command is None and word in bot.custom_commands:
        outcome.note("parse", parser="custom_command", word=word)
        outcome.responses.append(Response(text=bot.custom_commands[word]))
        return True
    if command is None:
        outcome.note("parse", parser="command", word=word, matched=False)
        outcome.responses.append(
            Response(
                text=f"I don't know {prefix}{word}. Try {prefix}help.",
                template="unknown_command",
                values={"command": f"{prefix}{word}"},
            )
        )
        return True
    action = command.action
    if participant.trust_level < action.min_trust:
        outcome.note("parse", parser="command", word=word, refused="trust")
        outcome.responses.append(
            Response(
                text=f"Sorry, {prefix}{word} needs more trust than you have here.",
                template="needs_trust",
                values={"command": f"{prefix}{word}"},
            )
        )
        return True
    args_type = args_type_for(action.kind)
    if args_type is None:
        outcome.note("parse", parser="command", word=word, refused="unavailable")
        outcome.responses.append(
            Response(
                text=f"Sorry, {prefix}{word} is not available right now.",
                template="unavailable",
                values={"command": f"{prefix}{word}"},
            )
        )
        return True
    try:
        arguments = arguments_bind(args_type, command.arguments, rest)
    except ArgumentError as error:
        outcome.note("parse", parser="command", word=word, refused="arguments", error=str(error))
        usage = arguments_usage(args_type)
        outcome.responses.append(
            Response(
                text=f"{error} Usage: {prefix}{word} {usage}".rstrip(),
                template="bad_arguments",
                values={"command": f"{prefix}{word}", "error": str(error), "usage": usage},
            )
        )
        return True
    outcome.note("parse", parser="command", word=word, action=action.name, arguments=arguments)
    outcome.calls.append(ActionCall(action=action, arguments=arguments, source=f"command:{word}"))
    return True


def patterns_parse(
    bot: BotSnapshot,
    participant: ParticipantInfo,
    text: str,
    outcome: Outcome,
    args_type_for: ArgsTypeFor,
) -> bool:
    """Turn every pattern match into a call (or a reply saying why not). Returns if any."""
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
        try:
            arguments = arguments_from_groups(args_type, match.pattern.arguments, match.groups)
        except ArgumentError as error:
            outcome.note("parse", **step, refused="arguments", error=str(error))
            outcome.responses.append(
                Response(
                    text=f"Sorry, I didn't get that: {error}",
                    template="bad_arguments",
                    values={"error": str(error)},
                )
            )
            continue
        outcome.note("parse", **step, action=action.name, arguments=arguments)
        outcome.calls.append(
            ActionCall(action=action, arguments=arguments, source=f"pattern:{match.pattern.id}")
        )
    return bool(matches)
