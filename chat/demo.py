"""The demo bot and publisher that the embedded run starts with."""

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from actions.models import Action, Command, Pattern, ResponseTemplate
from actions.registry import action_types
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
    (
        "latest-post",
        "latest_posts",
        {"publisher": ""},
        "Shows the most recent posts.",
        "latest-post",
    ),
    ("remember", "remember", {"scope": "participant"}, "remember <name> <note>", "remember"),
    ("recall", "recall", {"scope": "participant"}, "recall <name>", "recall"),
    ("forget", "forget", {"scope": "participant"}, "forget <name>", "forget"),
    (
        "mood",
        "mood_set",
        {"moods": "cheerful, grumpy, neutral"},
        "mood <cheerful|grumpy|neutral>",
        "mood",
    ),
    ("set-command", "set_command", {}, "set-command <word> <reply> (trusted)", "set-command"),
    ("unset-command", "unset_command", {}, "unset-command <word> (trusted)", "unset-command"),
    ("ignore", "ignore", {}, "ignore <name> (trusted)", "ignore"),
    ("unignore", "unignore", {}, "unignore <name> (trusted)", "unignore"),
    ("trust", "trust_set", {}, "trust <name> <visitor|member> (trusted)", "trust"),
    ("remind", "reminder", {}, "remind <what> in <when>", "remind"),
    ("reminders", "reminders_list", {}, "Lists your reminders.", "reminders"),
    ("cancel-reminder", "reminder_cancel", {}, "cancel-reminder <number>", "cancel-reminder"),
    ("subscribe", "subscribe", {}, "subscribe <publisher> [tag]", "subscribe"),
    ("unsubscribe", "unsubscribe", {}, "unsubscribe <publisher>", "unsubscribe"),
    (
        "subscriptions",
        "subscriptions_list",
        {},
        "Lists this room's subscriptions.",
        "subscriptions",
    ),
]

# Questions for what a participant leaves out ("!remember" alone starts a conversation).
DEMO_PROMPTS = {
    "remember": {"key": "What should I call it?", "value": "What should I remember?"},
    "recall": {"key": "What did I remember it as?"},
    "mood": {"mood": "Which mood: cheerful, grumpy or neutral?"},
}

# Replies in the demo's moods: staff edit these under Actions → Response templates.
DEMO_TEMPLATES = [
    # (key, mood, text)
    ("fallback", "cheerful", "Ooh, I didn't catch that! Try {prefix}help 🙂"),
    ("fallback", "grumpy", "What? Type {prefix}help, {participant}."),
    ("mood_set", "", "Mood set to {mood}."),
    ("latest_posts_none", "grumpy", "Nothing about {tag}. Happy now?"),
]

# DwayneBot's latest-post sentences, from configuration alone.
RECENT = r"(?:most recent|latest|newest)"
TAG = r"(?: about (?P<tag>[\w#+.-]+))?"
DEMO_PATTERNS = [
    # (regex, arguments, example, action name)
    (
        rf"get me the (?P<limit>\w+(?:[ -]\w+)?) {RECENT} posts\b{TAG}",
        {},
        "get me the three most recent posts",
        "latest-post",
    ),
    (
        rf"get me the (?P<nth>\w+(?:[ -]\w+)?) {RECENT} post\b{TAG}",
        {"limit": 1, "offset": {"group": "nth", "as": "ordinal", "add": -1}},
        "get me the 6th most recent post",
        "latest-post",
    ),
    (
        rf"get me the {RECENT} post\b{TAG}",
        {"limit": 1},
        "get me the most recent post about golang",
        "latest-post",
    ),
    (r"remind me to (?P<text>.+)", {}, "remind me to stretch in 20 minutes", "remind"),
    (r"what are my reminders", {}, "what are my reminders?", "reminders"),
]

DEMO_POSTS = [
    # (source id, title, tags)
    ("welcome", "Welcome to Botsite", ["botsite"]),
    ("go-generics", "Generics in Go, two years on", ["golang"]),
    ("django-5-2", "What Django 5.2 LTS brings", ["python", "django"]),
    ("go-iterators", "Range-over-func iterators in Go", ["golang"]),
    ("channels", "Live chat with Django Channels", ["python", "django"]),
    ("re2", "Why we match staff patterns with RE2", ["botsite", "security"]),
    ("celery-beat", "Schedules that survive restarts", ["python", "celery"]),
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
            defaults={
                "kind": kind,
                "config": config,
                "description": description,
                "prompts": DEMO_PROMPTS.get(name, {}),
                # The type's floor, as the admin would insist on when staff edit the row.
                "min_trust": action_types.get(kind).min_trust,
            },
        )
        Command.objects.get_or_create(bot=bot, word=word, defaults={"action": action})
    for key, mood, text in DEMO_TEMPLATES:
        ResponseTemplate.objects.get_or_create(bot=bot, key=key, mood=mood, defaults={"text": text})
    for regex, arguments, example, action_name in DEMO_PATTERNS:
        Pattern.objects.get_or_create(
            bot=bot,
            example=example,
            defaults={
                "action": Action.objects.get(bot=bot, name=action_name),
                "regex": regex,
                "arguments": arguments,
            },
        )
    publisher, _ = Publisher.objects.get_or_create(
        bot=bot, slug="news", defaults={"name": "Botsite news", "kind": "manual"}
    )
    first_published = timezone.now() - timedelta(days=len(DEMO_POSTS))
    for age, (source_id, title, tags) in enumerate(DEMO_POSTS):
        Post.objects.get_or_create(
            publisher=publisher,
            source_id=source_id,
            defaults={
                "title": title,
                "tags": tags,
                "published_at": first_published + timedelta(days=age),
            },
        )
    return bot


@dataclass(frozen=True)
class AdminLogin:
    username: str
    password: str | None
    is_new: bool
    password_file: Path


def admin_password_file(database: Mapping[str, Any] | None = None) -> Path:
    """The file of the data dir that keeps the admin password of `database` (this
    process's by default): `admin-password` for the embedded run's own SQLite database, a
    file named for any other. One data dir serves several databases (`python -m
    bench.run` sets up an admin on PostgreSQL from the same checkout), and one database's
    admin must not overwrite the password another's login needs."""
    data_dir = Path(settings.DATA_DIR)
    database = connection.settings_dict if database is None else database
    if database["ENGINE"] == "django.db.backends.sqlite3" and Path(database["NAME"]) == (
        data_dir / "botsite.sqlite3"
    ):
        return data_dir / "admin-password"
    parts = (database.get("HOST"), database.get("PORT"), database["NAME"])
    where = re.sub(r"[^A-Za-z0-9._]+", "-", "-".join(str(part) for part in parts if part))
    return data_dir / f"admin-password-{where.strip('-.')}"


def demo_admin_ensure(username: str = "admin") -> AdminLogin:
    """An admin account with a random password, kept in a private file of the data dir
    named for the database (`admin_password_file`)."""
    password_file = admin_password_file()
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
