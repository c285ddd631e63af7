from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.models import Bot
from integrations.models import ApiToken
from integrations.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for some bots and print its secret (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="Username the token acts as.")
        parser.add_argument("--bot", action="append", required=True, help="Bot slug; repeat.")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default="read")
        parser.add_argument("--name", default="command line")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r}.")
        bots = list(Bot.objects.filter(slug__in=options["bot"]))
        missing = set(options["bot"]) - {bot.slug for bot in bots}
        if missing:
            raise CommandError(f"No bot {', '.join(sorted(missing))}.")
        _, secret = api_token_create(
            name=options["name"], user=user, bots=bots, scope=options["scope"]
        )
        self.stdout.write(secret)
