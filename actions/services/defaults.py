"""What every new bot starts with, so that it answers from its first message.

The defaults are ordinary rows (an action, its command, a middleware stage) that staff see,
reword, switch off or delete in the admin like any other; nothing is hidden in the engine.
"""

from django.db import transaction

from actions.models import Action, Command
from conversations.models import Bot, BotMiddleware

#: (action name, action type, command word): a help generated from the bot's own actions.
DEFAULT_COMMANDS = [("help", "help", "help")]
#: The ignore list, so that marking a participant ignored in the admin takes effect.
DEFAULT_MIDDLEWARE = ["ignore_list"]


@transaction.atomic
def bot_defaults_install(*, bot: Bot) -> None:
    """Give a bot just created its default commands and middleware; rows staff added with
    it (a middleware inline, a command word) are kept and not doubled."""
    for name, kind, word in DEFAULT_COMMANDS:
        if Command.objects.filter(bot=bot, word=word).exists():
            continue
        action, _ = Action.objects.get_or_create(bot=bot, name=name, defaults={"kind": kind})
        Command.objects.create(bot=bot, word=word, action=action)
    taken = set(BotMiddleware.objects.filter(bot=bot).values_list("kind", flat=True))
    for position, kind in enumerate(DEFAULT_MIDDLEWARE):
        if kind not in taken:
            BotMiddleware.objects.create(bot=bot, kind=kind, position=position)
