from django.db import models

from conversations.models import Bot


class WebhookEndpoint(models.Model):
    """A URL that receives signed webhooks, with its secret and its health."""

    #: Kept by the sending machinery and the enable/disable services, never edited directly
    #: (the admin and the API show them read-only).
    RUNTIME_FIELDS = (
        "is_enabled",
        "disabled_reason",
        "disabled_at",
        "failure_streak",
        "first_failure_at",
        "last_success_at",
        "last_error",
        "secret_rotated_at",
        "created_at",
    )

    class DisabledReason(models.TextChoices):
        GONE = "gone", "The receiver answered 410 Gone"
        FAILING = "failing", "Failed for too long"
        STAFF = "staff", "Disabled by staff"

    bot = models.ForeignKey(
        Bot,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        help_text="The bot (tenant) this endpoint belongs to, if any.",
    )
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    # Signing needs the secret itself, so it cannot be hashed; it is shown once, when it is
    # made or rotated, and never displayed again.
    secret = models.CharField(max_length=100, editable=False)
    owner_email = models.EmailField(blank=True, help_text="Told when the endpoint is disabled.")
    is_enabled = models.BooleanField("enabled", default=True)
    disabled_reason = models.CharField(max_length=20, choices=DisabledReason.choices, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failure_streak = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(
        null=True, blank=True, help_text="When the current run of failures began."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_enabled=True, disabled_reason="")
                | models.Q(is_enabled=False) & ~models.Q(disabled_reason=""),
                name="webhook_endpoint_disabled_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.url
