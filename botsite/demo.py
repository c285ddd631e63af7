"""The demo bot and publisher that the embedded run starts with."""

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from actions.models import Action, Command
from conversations.models import Bot, BotMiddleware
from publishers.models import Post, Publisher

DEMO_ACTIONS = [
    # (name, kind, config, description, command word)
    ("help", "help", {}, "Lists what I understand.", "help"),
    (
        "about",
        "say",
        {"text": "I am the Botsite demo bot. Staff shape me in the admin; try !help."},
        "Says what this bot is.",
        "about",
    ),
    ("ping", "say", {"text": "pong"}, "Answers pong.", "ping"),
]


@transaction.atomic
def demo_install() -> Bot:
    """Create the demo bot and publisher if they are missing; never overwrite staff edits."""
    bot, _ = Bot.objects.get_or_create(
        slug="demo",
        defaults={
            "name": "Demo bot",
            "names": ["hey bot", "bot"],
            "default_mood": "cheerful",
        },
    )
    BotMiddleware.objects.get_or_create(bot=bot, kind="ignore_list", defaults={"position": 0})
    for name, kind, config, description, word in DEMO_ACTIONS:
        action, _ = Action.objects.get_or_create(
            bot=bot,
            name=name,
            defaults={"kind": kind, "config": config, "description": description},
        )
        Command.objects.get_or_create(bot=bot, word=word, defaults={"action": action})
    publisher, _ = Publisher.objects.get_or_create(
        bot=bot, slug="news", defaults={"name": "Botsite news", "kind": "manual"}
    )
    Post.objects.get_or_create(
        publisher=publisher,
        source_id="welcome",
        defaults={
            "title": "Welcome to Botsite",
            "body": "Posts written in the admin under Publishing → Posts appear here.",
            "tags": ["botsite"],
        },
    )
    return bot


@dataclass(frozen=True)
class AdminLogin:
    username: str
    password: str | None
    is_new: bool
    password_file: Path


def demo_admin_ensure(username: str = "admin") -> AdminLogin:
    """An admin account with a random password, kept in a private file of the data dir."""
    password_file = Path(settings.DATA_DIR) / "admin-password"
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.touch(mode=0o600)
        password_file.write_text(password + "\n")
        return AdminLogin(username, password, True, password_file)
    stored = password_file.read_text().strip() if password_file.exists() else None
    # Only repeat the stored password while it still works.
    password = stored if stored and user.check_password(stored) else None
    return AdminLogin(username, password, False, password_file)
