"""Finding action calls in a message's text."""

from collections.abc import Callable

from conversations.engine.arguments import ArgumentError, arguments_bind, arguments_usage
from conversations.engine.messages import (
    ActionCall,
    BotSnapshot,
    Outcome,
    ParticipantInfo,
    Response,
    RoomInfo,
)

#: Gives the `Args` dataclass of an action type by key, or None when the type is gone.
ArgsTypeFor = Callable[[str], type | None]


def command_split(bot: BotSnapshot, text: str) -> tuple[str, str] | None:
    """`!Help me` → ("help", "me"); None when the text is not a command."""
    if not text.startswith(bot.command_prefix):
        return None
    word, _, rest = text[len(bot.command_prefix) :].partition(" ")
    word = word.strip().lower()
    return (word, rest.strip()) if word else None


def is_addressed(bot: BotSnapshot, room: RoomInfo, text: str) -> bool:
    """The bot answers free text in one-to-one rooms, or when a message starts with its name."""
    if room.is_direct:
        return True
    lowered = text.lower()
    return any(lowered.startswith(name.lower()) for name in bot.names if name)


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
    if command is None:
        outcome.note("parse", parser="command", word=word, matched=False)
        outcome.responses.append(Response(text=f"I don't know {prefix}{word}. Try {prefix}help."))
        return True
    action = command.action
    if participant.trust_level < action.min_trust:
        outcome.note("parse", parser="command", word=word, refused="trust")
        outcome.responses.append(
            Response(text=f"Sorry, {prefix}{word} needs more trust than you have here.")
        )
        return True
    args_type = args_type_for(action.kind)
    if args_type is None:
        outcome.note("parse", parser="command", word=word, refused="unavailable")
        outcome.responses.append(
            Response(text=f"Sorry, {prefix}{word} is not available right now.")
        )
        return True
    try:
        arguments = arguments_bind(args_type, command.arguments, rest)
    except ArgumentError as error:
        outcome.note("parse", parser="command", word=word, refused="arguments", error=str(error))
        usage = arguments_usage(args_type)
        outcome.responses.append(Response(text=f"{error} Usage: {prefix}{word} {usage}".rstrip()))
        return True
    outcome.note("parse", parser="command", word=word, action=action.name, arguments=arguments)
    outcome.calls.append(ActionCall(action=action, arguments=arguments, source=f"command:{word}"))
    return True
