from actions.base import ActionContext, ActionType
from actions.registry import action_types
from conversations.engine.messages import ActionCall, ActionSnapshot, Response


@action_types.register
class HelpAction(ActionType):
    """Lists the bot's commands and what each one does."""

    key = "help"
    label = "Help"

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        bot = ctx.bot
        trust = ctx.participant.trust_level if ctx.participant else 0
        lines = [
            f"{bot.command_prefix}{word} — {_describe(command.action)}"
            for word, command in sorted(bot.commands.items())
            if command.action.min_trust <= trust
        ]
        if not lines:
            return [Response(text=f"{bot.name} has no commands you can use yet.")]
        return [Response(text="\n".join([f"{bot.name} understands these commands:", *lines]))]


def _describe(action: ActionSnapshot) -> str:
    if action.description:
        return action.description
    if action.kind in action_types:
        return action_types.get(action.kind).description()
    return action.name
