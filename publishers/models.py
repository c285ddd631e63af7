import zoneinfo

from celery.schedules import crontab
from django.core.exceptions import ValidationError
from django.db import models
from django_celery_beat.models import PeriodicTask

from botsite.fields import StringListField
from conversations.models import Bot, Participant, Room
from publishers.registry import publisher_type_choices, publisher_types
from webhooks.models import WebhookEndpoint

CRONTAB_HELP = "Five fields: minute hour day-of-month month day-of-week, e.g. '*/15 7-22 * * *'."
FIRST_RUN_HELP = (
    "A source's first run (a new publisher, or one given another URL) finds its backlog, "
    "often years of items. Empty: store the backlog as history, send nothing of it. A number "
    "of hours: send the items published within that many hours before the run, store the "
    "older and undated ones as history. Later runs send every new item."
)
#: `Publisher.source_seen` of rows from before first runs were told apart: their next run
#: takes its source as seen and sends what is new, as before.
SOURCE_ADOPT = "adopt"


class Publisher(models.Model):
    """A source of posts on one bot, with the schedule it is fetched on."""

    class Status(models.TextChoices):
        NEW = "new", "Not run yet"
        OK = "ok", "OK"
        FAILING = "failing", "Failing"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="publishers")
    slug = models.SlugField(max_length=50, help_text="What subscribers type: !subscribe news.")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=50, choices=publisher_type_choices)
    config = models.JSONField(default=dict, blank=True)
    interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fetch every this many seconds; empty: only on demand."
    )
    crontab = models.CharField(
        max_length=100, blank=True, help_text=f"Instead of an interval. {CRONTAB_HELP}"
    )
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="The time zone the crontab is read in."
    )
    is_enabled = models.BooleanField("enabled", default=True)
    first_run_send_hours = models.PositiveIntegerField(
        "on a first run, send items of the last (hours)",
        null=True,
        blank=True,
        help_text=FIRST_RUN_HELP,
    )
    # A digest of the source the last good run read; a run that reads another is a first run.
    source_seen = models.CharField(
        max_length=64, default="", db_default=SOURCE_ADOPT, blank=True, editable=False
    )
    periodic_task = models.OneToOneField(
        PeriodicTask, on_delete=models.SET_NULL, null=True, blank=True, editable=False
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # A run holds this lease; an overlapping run (a second beat, a slow source) skips.
    run_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bot", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "slug"], name="publisher_slug_unique_per_bot"),
            models.CheckConstraint(
                condition=models.Q(interval_seconds__isnull=True)
                | models.Q(interval_seconds__gte=10),
                name="publisher_interval_at_least_10s",
                violation_error_message="Fetch at most every 10 seconds.",
            ),
            models.CheckConstraint(
                condition=models.Q(interval_seconds__isnull=True) | models.Q(crontab=""),
                name="publisher_interval_or_crontab",
                violation_error_message="Give an interval or a crontab, not both.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.interval_seconds is not None and self.interval_seconds < 10:
            errors["interval_seconds"] = ["Fetch at most every 10 seconds."]
        if self.interval_seconds is not None and self.crontab:
            errors["crontab"] = ["Give an interval or a crontab, not both."]
        if self.crontab:
            fields = self.crontab.split()
            if len(fields) != 5:
                errors["crontab"] = [CRONTAB_HELP]
            else:
                try:
                    # Celery's own parser: what it refuses here, beat would refuse later.
                    crontab(*fields)
                except (ValueError, TypeError) as error:
                    errors["crontab"] = [f"{CRONTAB_HELP} ({error})"]
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = [f"Unknown time zone {self.timezone!r}; e.g. Europe/Paris."]
        try:
            self.config = publisher_types.config_clean(self.kind, self.config)
        except ValidationError as error:
            errors.update(error.message_dict)
        if errors:
            raise ValidationError(errors)


class PublisherRun(models.Model):
    """One fetch of a publisher: what it saw, what was new, how it ended."""

    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    items_seen = models.PositiveIntegerField(default=0)
    posts_new = models.PositiveIntegerField(default=0)
    posts_history = models.PositiveIntegerField(
        "of which history",
        default=0,
        db_default=0,
        help_text="New posts of a first run stored as history: not sent to subscribers.",
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.publisher} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class Post(models.Model):
    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="posts")
    source_id = models.CharField(
        max_length=255, help_text="The item's id at its source; stored once per publisher."
    )
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.URLField(max_length=1000, blank=True)
    tags = StringListField()
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["publisher", "source_id"], name="post_unique_per_publisher"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        # Tags match case-insensitively; storing them lower-case keeps lookups simple.
        self.tags = [tag.lower() for tag in self.tags]


class Subscription(models.Model):
    """Someone follows a publisher, optionally for one tag, in one place."""

    class Destination(models.TextChoices):
        ROOM = "room", "Chat room"
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="subscriptions")
    participant = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        help_text="Who subscribed, when it was done from a chat.",
    )
    destination = models.CharField(max_length=20, choices=Destination.choices)
    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, null=True, blank=True, related_name="subscriptions"
    )
    email = models.EmailField(blank=True)
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="subscriptions",
        verbose_name="webhook endpoint",
    )
    tag = models.CharField(max_length=100, blank=True, help_text="Empty: every post.")
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        destination="room", room__isnull=False, email="", endpoint__isnull=True
                    )
                    | models.Q(destination="email", room__isnull=True, endpoint__isnull=True)
                    & ~models.Q(email="")
                    | models.Q(
                        destination="webhook", room__isnull=True, email="", endpoint__isnull=False
                    )
                ),
                name="subscription_destination_fields",
            ),
            models.UniqueConstraint(
                fields=["publisher", "room", "tag"],
                condition=models.Q(destination="room"),
                name="subscription_unique_room",
            ),
            models.UniqueConstraint(
                fields=["publisher", "email", "tag"],
                condition=models.Q(destination="email"),
                name="subscription_unique_email",
            ),
            models.UniqueConstraint(
                fields=["publisher", "endpoint", "tag"],
                condition=models.Q(destination="webhook"),
                name="subscription_unique_webhook",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.publisher} → {self.target}"

    @property
    def target(self) -> str:
        if self.destination == self.Destination.ROOM:
            return str(self.room) if self.room_id else "room"
        if self.destination == self.Destination.EMAIL:
            return self.email
        return str(self.endpoint) if self.endpoint_id else "webhook"

    def clean(self) -> None:
        # An endpoint made with the subscription is checked before either is saved.
        has_endpoint = bool(self.endpoint_id) or (
            Subscription.endpoint.is_cached(self) and self.endpoint is not None
        )
        values = {"room": self.room_id, "email": self.email, "endpoint": has_endpoint}
        needed = {"room": "room", "email": "email", "webhook": "endpoint"}.get(self.destination)
        if needed is None:
            return
        errors = {}
        if not values[needed]:
            errors[needed] = "Required for this destination."
        for name, value in values.items():
            if name != needed and value:
                errors[name] = "Leave empty for this destination."
        if self.room_id and self.publisher_id and self.room.bot_id != self.publisher.bot_id:
            errors["room"] = "The room belongs to another bot."
        endpoint_bot = self.endpoint.bot_id if self.endpoint_id else None
        if endpoint_bot and self.publisher_id and endpoint_bot != self.publisher.bot_id:
            errors["endpoint"] = "The endpoint belongs to another bot."
        if errors:
            raise ValidationError(errors)


class Delivery(models.Model):
    """One post to one subscription: created once, sent once, retried until sent or dead."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Dead (gave up)"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current attempt began."
    )
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["post", "subscription"], name="delivery_unique_per_post_subscription"
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending", "failed"]),
                name="delivery_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.post} → {self.subscription.target} ({self.status})"

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` of this delivery: the same on every retry."""
        return f"delivery-{self.pk}"
