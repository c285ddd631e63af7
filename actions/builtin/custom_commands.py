"""set-command / unset-command: commands trusted participants define from the chat."""

import re
from dataclasses import dataclass

from actions.base import ActionContext, ActionType, MemoryPort
from actions.exceptions import ActionFailed
from actions.registry import action_types
from engine.arguments import DictatedText
from engine.messages import ActionCall, Response, TrustLevel
from engine.snapshots import COMMAND_WORD_PATTERN, CUSTOM_COMMAND_KEY_PREFIX

MAX_TEXT_CHARS = 1000


def _memory(ctx: ActionContext) -> MemoryPort:
    if ctx.memory is None:
        raise ActionFailed("custom commands cannot be changed here.")
    return ctx.memory


def _word(ctx: ActionContext, raw: str) -> str:
    word = raw.strip().lower().removeprefix(ctx.bot.command_prefix)
    if not re.match(COMMAND_WORD_PATTERN, word) or len(word) > 50:
        raise ActionFailed("a command is one word of lower-case letters, digits, - and _.")
    if word in ctx.bot.commands:
        raise ActionFailed(f"{ctx.bot.command_prefix}{word} is one of the bot's own commands.")
    return word


@dataclass(frozen=True)
class SetCommandArgs:
    word: str
    text: DictatedText


@action_types.register
class SetCommandAction(ActionType):
    """Defines a command that answers with a text: set-command hello Hi there!"""

    key = "set_command"
    label = "Set a custom command"
    Args = SetCommandArgs
    min_trust = TrustLevel.TRUSTED

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        args = SetCommandArgs(**call.arguments)
        word = _word(ctx, args.word)
        if len(args.text) > MAX_TEXT_CHARS:
            raise ActionFailed(f"a custom reply has at most {MAX_TEXT_CHARS} characters.")
        _memory(ctx).remember(
            key=CUSTOM_COMMAND_KEY_PREFIX + word,
            value={"text": args.text},
            scope="bot",
            ttl_seconds=None,
        )
        command = f"{ctx.bot.command_prefix}{word}"
        return [
            Response(
                text=f"{command} now answers: {args.text}",
                template="command_set",
                values={"command": command, "text": args.text},
            )
        ]


@dataclass(frozen=True)
class UnsetCommandArgs:
    word: str


@action_types.register
class UnsetCommandAction(ActionType):
    """Removes a custom command."""

    key = "unset_command"
    label = "Remove a custom command"
    Args = UnsetCommandArgs
    min_trust = TrustLevel.TRUSTED

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        word = _word(ctx, UnsetCommandArgs(**call.arguments).word)
        had = _memory(ctx).forget(key=CUSTOM_COMMAND_KEY_PREFIX + word, scope="bot")
        command = f"{ctx.bot.command_prefix}{word}"
        text = f"{command} is gone." if had else f"There was no custom {command}."
        return [Response(text=text, template="command_unset", values={"command": command})]
