import re
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from botsite.fields import StringListField
from conversations.connectors.registry import connector_type_choices, connector_types
from conversations.middleware.registry import middleware_type_choices, middleware_types
from engine.messages import TrustLevel
from engine.snapshots import MOOD_PATTERN

TRUST_LEVEL_CHOICES = [(level.value, level.name.title()) for level in TrustLevel]

mood_validator = RegexValidator(MOOD_PATTERN, "A mood is a lowercase word.")
ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")


class Bot(models.Model):
    slug = models.SlugField(max_length=50, unique=True, help_text="Used in chat and API URLs.")
    name = models.CharField(max_length=100)
    command_prefix = models.CharField(
        max_length=5, default="!", help_text="Messages starting with this are commands."
    )
    names = StringListField(
        help_text="Names the bot answers to in group rooms, comma-separated (hey bot, bot).",
    )
    default_mood = models.CharField(max_length=30, default="neutral", validators=[mood_validator])
    batch_window_ms = models.PositiveIntegerField(
        "batching window (ms)",
        default=0,
        validators=[MaxValueValidator(60_000)],
        help_text="Calls queued within this window get one combined reply; 0 answers at once.",
    )
    pending_timeout_seconds = models.PositiveIntegerField(
        "question timeout (s)",
        default=300,
        validators=[MaxValueValidator(86_400)],
        help_text="How long the bot waits for the answer to a question it asked.",
    )
    fallback_text = models.TextField(
        blank=True,
        help_text="Reply when nothing matched in a room where the bot was addressed. "
        "Empty: a hint to use the help command.",
    )
    allowed_origins = StringListField(
        help_text="Sites that may embed the chat widget, comma-separated "
        "(https://shop.example.com). The site's own host is always allowed.",
    )
    is_enabled = models.BooleanField("enabled", default=True)
    #: New on every configuration change; processes rebuild their snapshot when it moves
    #: (actions/snapshots.py).
    config_version = models.UUIDField(default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(command_prefix=""), name="bot_command_prefix_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.config_version = uuid.uuid4()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "config_version"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        bad = [origin for origin in self.allowed_origins if not ORIGIN.match(origin)]
        if bad:
            raise ValidationError(
                {"allowed_origins": f"Write origins as scheme://host[:port]: {', '.join(bad)}"}
            )


class BotMiddleware(models.Model):
    """One stage of a bot's ordered middleware stack."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="middleware_stack")
    kind = models.CharField(max_length=50, choices=middleware_type_choices)
    config = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_enabled = models.BooleanField("enabled", default=True)

    class Meta:
        ordering = ["bot", "position", "id"]
        verbose_name = "middleware"
        verbose_name_plural = "middleware"

    def __str__(self) -> str:
        return f"{self.bot.slug}: {middleware_types.label_for(self.kind)}"

    def clean(self) -> None:
        self.config = middleware_types.config_clean(self.kind, self.config)


class Connector(models.Model):
    """A bot's account on a network that keeps a live connection (an IRC server, ...),
    held by a bridge process; its rooms are the places it joins there."""

    class Status(models.TextChoices):
        OFFLINE = "offline", "Offline"
        CONNECTING = "connecting", "Connecting"
        CONNECTED = "connected", "Connected"
        FAILING = "failing", "Failing (retrying)"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="connectors")
    kind = models.CharField(max_length=40, choices=connector_type_choices)
    name = models.CharField(max_length=100, help_text="E.g. the network's name.")
    config = models.JSONField(default=dict, blank=True)
    #: The password, sealed (`botsite/sealed.py`); never shown again once saved.
    secret_sealed = models.TextField(blank=True, editable=False)
    is_enabled = models.BooleanField("enabled", default=True)
    # What the bridge holding it last reported.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OFFLINE)
    status_detail = models.TextField("last error", blank=True)
    joined = models.JSONField(default=list, blank=True, editable=False)
    lag_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)
    last_in_at = models.DateTimeField("last message in", null=True, blank=True, editable=False)
    last_out_at = models.DateTimeField("last message out", null=True, blank=True, editable=False)
    # One bridge holds it at a time; another takes it when the holder stops beating.
    lease_holder = models.CharField(max_length=200, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    #: Where the network's history resumes after a restart (a Matrix sync token), as the
    #: holder reported it once everything before it was stored.
    cursor = models.CharField(max_length=500, blank=True, default="", db_default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["bot", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "name"], name="connector_name_unique_per_bot")
        ]

    def __str__(self) -> str:
        return f"{self.bot.slug}: {self.name}"

    def clean(self) -> None:
        self.config = connector_types.config_clean(self.kind, self.config)


class Room(models.Model):
    """One bot in one place: a web chat conversation, a Telegram chat, an IRC channel."""

    # No index of its own: the unique constraint's index starts with the bot. A second one
    # costs every insert, and without statistics the planner took it for lookups that the
    # unique index answers (BENCHMARKS.md).
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="rooms", db_index=False)
    connector = models.CharField(max_length=40, choices=connector_type_choices)
    external_id = models.CharField(max_length=255, help_text="The place's id on its connector.")
    title = models.CharField(max_length=200, blank=True)
    is_direct = models.BooleanField(
        "one-to-one", default=False, help_text="The bot answers without being addressed."
    )
    mood = models.CharField(
        max_length=30, blank=True, validators=[mood_validator], help_text="Empty: the bot's."
    )
    batch_window_ms = models.PositiveIntegerField(
        "batching window (ms)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(60_000)],
        help_text="Empty: the bot's window.",
    )
    settings = models.JSONField(default=dict, blank=True)
    #: The bot's account its messages travel through, for rooms on a bridged network.
    via = models.ForeignKey(
        Connector,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="rooms",
        verbose_name="connector",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "connector", "external_id"], name="room_unique_per_connector"
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"{self.bot.slug} · {self.connector} · {self.external_id}"

    @property
    def effective_mood(self) -> str:
        return self.mood or self.bot.default_mood

    @property
    def effective_batch_window_ms(self) -> int:
        if self.batch_window_ms is not None:
            return self.batch_window_ms
        return self.bot.batch_window_ms


class Participant(models.Model):
    """A user as one bot sees them on one connector."""

    # No index of its own: the unique constraint's index starts with the bot. A second one
    # costs every insert, and without statistics the planner took it for lookups that the
    # unique index answers (BENCHMARKS.md).
    bot = models.ForeignKey(
        Bot, on_delete=models.CASCADE, related_name="participants", db_index=False
    )
    connector = models.CharField(max_length=40, choices=connector_type_choices)
    external_id = models.CharField(max_length=255)
    display_name = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="participants",
    )
    trust_level = models.SmallIntegerField(choices=TRUST_LEVEL_CHOICES, default=TrustLevel.VISITOR)
    is_ignored = models.BooleanField(
        "ignored", default=False, help_text="Messages are stored but not answered."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "connector", "external_id"],
                name="participant_unique_per_connector",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.external_id


class Message(models.Model):
    class SenderKind(models.TextChoices):
        PARTICIPANT = "participant", "Participant"
        BOT = "bot", "Bot"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    sender_kind = models.CharField(max_length=20, choices=SenderKind.choices)
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    text = models.TextField()
    html = models.TextField(blank=True, help_text="Sanitised HTML shown where supported.")
    client_id = models.UUIDField(
        null=True, blank=True, help_text="The sender's id for this message; makes resends safe."
    )
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    trace = models.JSONField(
        default=list, blank=True, help_text="How the engine understood this message."
    )
    # The database's clock, not the writing process's: messages written by servers and
    # workers on different hosts are compared by time (the catch-up overlap, the events'
    # settling delay), and one clock cannot be skewed against itself.
    created_at = models.DateTimeField(db_default=Now(), db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    #: For a bot's message in a room on a bridged network: when the bridge said it went out.
    relayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["room", "id"], name="message_room_id")]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="message_client_id_unique_per_room",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(sender_kind="participant", participant__isnull=False)
                    | models.Q(sender_kind="bot", participant__isnull=True)
                ),
                name="message_sender_matches_participant",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def sender_name(self) -> str:
        if self.sender_kind == self.SenderKind.BOT:
            return self.room.bot.name
        return str(self.participant)


class MemoryEntry(models.Model):
    """One remembered value; the newest unexpired entry for a key and scope wins."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="memory_entries")
    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, null=True, blank=True, related_name="memory_entries"
    )
    participant = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="memory_entries",
    )
    key = models.CharField(max_length=100)
    value = models.JSONField(blank=True, null=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "memory entries"
        indexes = [
            models.Index(
                fields=["bot", "key", "room", "participant", "-created_at"],
                name="memory_lookup",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.scope})"

    @property
    def scope(self) -> str:
        if self.participant_id:
            return "participant"
        if self.room_id:
            return "room"
        return "bot"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.room_id and self.room.bot_id != self.bot_id:
            errors["room"] = "The room belongs to another bot."
        if self.participant_id and self.participant.bot_id != self.bot_id:
            errors["participant"] = "The participant belongs to another bot."
        if errors:
            raise ValidationError(errors)
