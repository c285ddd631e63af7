from actions.base import ActionContext, ActionType
from actions.registry import action_types
from engine.messages import ActionCall, Response
from engine.snapshots import ActionSnapshot


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
        examples = [
            f"“{pattern.example}”"
            for pattern in bot.patterns
            if pattern.example and pattern.action.min_trust <= trust
        ]
        if not lines and not examples:
            return [Response(text=f"{bot.name} has no commands you can use yet.")]
        text = [f"{bot.name} understands these commands:", *lines] if lines else []
        if examples:
            name = f"“{bot.names[0]}, …”" if bot.names else "my name"
            text += [f"You can also talk to me (start with {name} in group rooms):", *examples]
        return [Response(text="\n".join(text), template="help", values={"help": "\n".join(text)})]


def _describe(action: ActionSnapshot) -> str:
    if action.description:
        return action.description
    if action.kind in action_types:
        return action_types.get(action.kind).description()
    return action.name
