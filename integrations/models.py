import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from botsite.fields import StringListField
from conversations.models import Bot

TOKEN_PREFIX = "bst"  # noqa: S105 (a public marker, like ghp_ of GitHub tokens)


def secret_hash(secret: str) -> str:
    # The secret is 256 random bits, so a plain digest is enough; a slow hash would only add
    # latency to every request.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """An integrator's key to the REST API: scoped to some bots, read or write, revocable."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    name = models.CharField(max_length=100, help_text="What it is for, e.g. “CRM sync”.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="Whose token: its writes are recorded in the audit log as this user's.",
    )
    bots = models.ManyToManyField(
        Bot, related_name="api_tokens", help_text="The bots it may see; nothing else exists for it."
    )
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    may_create_tokens = models.BooleanField(
        default=False,
        help_text="It may create tokens itself (POST /api/v1/tokens/), for some of its bots, "
        "never wider in scope or longer-lived than itself.",
    )
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def prefix(self) -> str:
        return f"{TOKEN_PREFIX}_{self.key_id}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE

    def secret_set(self) -> str:
        """Give the token a new key and secret; returns the one string the caller shows once."""
        self.key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        self.secret_hash = secret_hash(secret)
        return f"{self.prefix}_{secret}"

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, secret_hash(secret))


class AuditEntry(models.Model):
    """One change made in the admin or through the API: who, what, when, before and after."""

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"

    class Source(models.TextChoices):
        ADMIN = "admin", "Admin"
        API = "api", "REST API"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    token = models.ForeignKey(
        ApiToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as text so the entry outlives the user and the token it names.
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=10, choices=Action.choices)
    model = models.CharField(max_length=100, help_text="app_label.model")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["model", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.model} #{self.object_id}"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` seen on a conversation post, with a digest of the body it came with."""

    principal = models.CharField(max_length=100, help_text="token:<id> or user:<id>")
    key = models.CharField(max_length=255)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="+")
    request_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "bot", "key"], name="idempotency_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.key


class EventType(models.TextChoices):
    MESSAGE_RECEIVED = "message.received", "A participant's message was received"
    REPLY_SENT = "reply.sent", "The bot replied"
    DELIVERY_FAILED = "delivery.failed", "A post could not be delivered (gave up)"
    PUBLISHER_FAILING = "publisher.failing", "A publisher's run failed"


class EventHook(models.Model):
    """Events of a bot (or of one room: a conversation's callback) pushed to a webhook
    endpoint of that bot, in order."""

    endpoint = models.ForeignKey(
        "webhooks.WebhookEndpoint", on_delete=models.CASCADE, related_name="event_hooks"
    )
    room = models.ForeignKey(
        "conversations.Room",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="event_hooks",
        help_text="Only this room's messages (a conversation's callback); empty: every room.",
    )
    events = StringListField(help_text="Event types, comma-separated: " + ", ".join(EventType))
    is_enabled = models.BooleanField("enabled", default=True)
    # Cursors: rows up to these ids have been turned into events (or predate the hook).
    last_message_id = models.BigIntegerField(default=0, editable=False)
    last_publisher_run_id = models.BigIntegerField(default=0, editable=False)
    send_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "room"],
                condition=models.Q(room__isnull=False),
                name="event_hook_one_callback_per_room_and_endpoint",
            ),
        ]

    def __str__(self) -> str:
        return f"{', '.join(self.events)} → {self.endpoint}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        unknown = sorted(set(self.events) - set(EventType.values))
        if unknown or not self.events:
            errors["events"] = f"Choose among: {', '.join(EventType.values)}."
        endpoint = getattr(self, "endpoint", None) if self.endpoint_id else None
        if endpoint is not None and endpoint.bot_id is None:
            errors["endpoint"] = "Use an endpoint of a bot."
        elif endpoint is not None and self.room_id and self.room.bot_id != endpoint.bot_id:
            errors["room"] = "The room belongs to another bot."
        if errors:
            raise ValidationError(errors)


class EventDelivery(models.Model):
    """One event for one hook: written once, sent in order, retried until sent or dead."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        DEAD = "dead", "Dead (gave up)"

    hook = models.ForeignKey(EventHook, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=30, choices=EventType.choices)
    object_key = models.CharField(max_length=64, help_text="What the event is about, e.g. its id.")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "event deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["hook", "event_type", "object_key"], name="event_delivery_once"
            ),
        ]
        indexes = [models.Index(fields=["hook", "status", "id"], name="event_delivery_queue")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.object_key} ({self.status})"
