from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from actions.registry import action_type_choices, action_types
from conversations.models import (
    TRUST_LEVEL_CHOICES,
    Bot,
    Message,
    Participant,
    Room,
    mood_validator,
)
from engine.arguments import ArgumentError, arguments_spec_check, pattern_groups_check
from engine.messages import TrustLevel
from engine.patterns import MAX_PATTERN_CHARS, PatternError, pattern_compile
from engine.render import TemplateError, template_names
from engine.snapshots import COMMAND_WORD_PATTERN

command_word_validator = RegexValidator(COMMAND_WORD_PATTERN, "Lowercase letters, digits, - and _.")


class Action(models.Model):
    """A configured instance of a registered action type, on one bot."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="actions")
    name = models.SlugField(max_length=60, help_text="Unique per bot; used in logs and the API.")
    kind = models.CharField(max_length=50, choices=action_type_choices)
    config = models.JSONField(default=dict, blank=True)
    min_trust = models.SmallIntegerField(
        "minimum trust", choices=TRUST_LEVEL_CHOICES, default=TrustLevel.VISITOR
    )
    description = models.CharField(
        max_length=200, blank=True, help_text="Shown by help; empty: the type's description."
    )
    prompts = models.JSONField(
        default=dict,
        blank=True,
        help_text='Questions for arguments a participant leaves out: {"city": "Which city?"}. '
        "The answer fills the argument; cancel drops the question.",
    )
    is_enabled = models.BooleanField("enabled", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bot", "name"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "name"], name="action_name_unique_per_bot"),
        ]

    def __str__(self) -> str:
        return f"{self.bot.slug}: {self.name}"

    def clean(self) -> None:
        self.config = action_types.config_clean(self.kind, self.config)
        if self.kind in action_types:
            fields = set(action_types.get(self.kind).Args.__dataclass_fields__)
            if not isinstance(self.prompts, dict) or not all(
                name in fields and isinstance(text, str) and text.strip()
                for name, text in self.prompts.items()
            ):
                known = ", ".join(sorted(fields)) or "none"
                raise ValidationError(
                    {"prompts": f"Give a question (text) per argument; arguments: {known}."}
                )
            floor = action_types.get(self.kind).min_trust
            if self.min_trust is not None and self.min_trust < floor:
                raise ValidationError(
                    {"min_trust": f"This action type needs at least trust level {floor}."}
                )


def _validate_same_bot(owner: models.Model, action: Action | None) -> None:
    if action is not None and owner.bot_id and action.bot_id != owner.bot_id:
        raise ValidationError({"action": "The action belongs to another bot."})


def _validate_arguments(
    action: Action | None, arguments: object, group_names: set[str] | None
) -> None:
    if action is None or action.kind not in action_types:
        return
    try:
        arguments_spec_check(action_types.get(action.kind).Args, arguments, group_names)
    except ArgumentError as error:
        raise ValidationError({"arguments": str(error)}) from error


class Command(models.Model):
    """A word after the bot's prefix that calls an action (`!help`)."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="commands")
    word = models.CharField(
        max_length=50,
        validators=[command_word_validator],
    )
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="commands")
    arguments = models.JSONField(
        default=dict, blank=True, help_text="Argument values fixed for this command."
    )

    class Meta:
        ordering = ["bot", "word"]
        constraints = [
            models.UniqueConstraint(fields=["bot", "word"], name="command_word_unique_per_bot"),
        ]

    def __str__(self) -> str:
        return f"{self.bot.command_prefix}{self.word}" if self.bot_id else self.word

    def clean(self) -> None:
        action = getattr(self, "action", None)
        _validate_same_bot(self, action)
        _validate_arguments(action, self.arguments, None)
        # Also checked here because admin inlines leave `bot` out of their form's validation.
        taken = Command.objects.filter(bot_id=self.bot_id, word=self.word).exclude(pk=self.pk)
        if self.bot_id and taken.exists():
            raise ValidationError({"word": f"The bot already has a command {self.word!r}."})


class Pattern(models.Model):
    """A regular expression over free text whose named groups become an action's arguments."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="patterns")
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="patterns")
    regex = models.TextField(
        max_length=MAX_PATTERN_CHARS,
        help_text="RE2 syntax (linear time), case-insensitive. A named group (?P<limit>...) "
        "fills the argument of that name.",
    )
    arguments = models.JSONField(
        default=dict,
        blank=True,
        help_text='Fixed values ({"limit": 1}) or a group converted: '
        '{"offset": {"group": "nth", "as": "ordinal", "add": -1}}; "as" is number, ordinal, '
        "duration, word, text or choice (with a choices list).",
    )
    example = models.CharField(
        max_length=200, blank=True, help_text="A sentence it understands; help shows it."
    )
    priority = models.SmallIntegerField(default=0, help_text="Higher is tried first.")
    is_enabled = models.BooleanField("enabled", default=True)

    class Meta:
        ordering = ["bot", "-priority", "id"]

    def __str__(self) -> str:
        return self.regex[:60]

    def clean(self) -> None:
        action = getattr(self, "action", None)
        _validate_same_bot(self, action)
        try:
            compiled = pattern_compile(self.regex)
        except PatternError as error:
            raise ValidationError({"regex": str(error)}) from error
        _validate_arguments(action, self.arguments, set(compiled.groupindex))
        if action is not None and action.kind in action_types:
            try:
                pattern_groups_check(
                    action_types.get(action.kind).Args, self.arguments, set(compiled.groupindex)
                )
            except ArgumentError as error:
                raise ValidationError({"regex": str(error)}) from error


class ResponseTemplate(models.Model):
    """A reply text for a key and mood; several rows for one key and mood are variants."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="response_templates")
    key = models.SlugField(
        max_length=100,
        help_text="Which reply: an action's (latest_posts, help) or the engine's (fallback, "
        "unknown_command, needs_trust, unavailable, bad_arguments).",
    )
    mood = models.CharField(
        max_length=30, blank=True, validators=[mood_validator], help_text="Empty: any mood."
    )
    text = models.TextField(
        help_text="Placeholders such as {participant}, {bot}, {command} or an action's "
        "values; {{ and }} for literal braces."
    )
    html = models.TextField(
        blank=True, help_text="Optional HTML version; values are escaped, markup sanitised."
    )

    class Meta:
        ordering = ["bot", "key", "mood", "id"]
        indexes = [models.Index(fields=["bot", "key", "mood"], name="template_lookup")]

    def __str__(self) -> str:
        return f"{self.key} [{self.mood or 'any mood'}]"

    def clean(self) -> None:
        errors = {}
        for field in ("text", "html"):
            try:
                template_names(getattr(self, field))
            except TemplateError as error:
                errors[field] = str(error)
        if errors:
            raise ValidationError(errors)


class ActionRun(models.Model):
    """One action call to run on a worker: written with its cause, claimed once, retried."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    #: Not finished yet: waiting for its time or a worker, or running.
    ACTIVE = (Status.PENDING, Status.RUNNING)

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="action_runs")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="action_runs")
    participant = models.ForeignKey(
        Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.ForeignKey(
        Action, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    action_name = models.CharField(max_length=60, help_text="Kept if the action is deleted.")
    message = models.ForeignKey(
        Message,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="action_runs",
        help_text="The message that caused this run.",
    )
    arguments = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    run_after = models.DateTimeField(default=timezone.now)
    batch_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Runs of a room with the same end of batching window answer together.",
    )
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    claimed_by_process = models.CharField(
        max_length=200,
        blank=True,
        db_default="",
        help_text="The worker process running it (host:pid:random), when that process sends "
        "heartbeats; if they stop, the sweeper takes the run back.",
    )
    claimed_by_task = models.CharField(
        max_length=64,
        blank=True,
        # In the database too: servers of the previous release, still running while the
        # migration is applied, write runs without this column.
        db_default="",
        help_text="The worker task that claimed the run last; if its worker dies, the "
        "task's redelivery takes the run back at once.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "enqueued_at"], name="action_run_sweep")]

    def __str__(self) -> str:
        return f"{self.action_name} #{self.pk} ({self.status})"


class WorkerHeartbeat(models.Model):
    """The last sign of life of one worker pool process (`actions.liveness`)."""

    process = models.CharField(max_length=200, unique=True, help_text="host:pid:random")
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.process} at {self.beat_at:%Y-%m-%d %H:%M:%S}"


class PendingAction(models.Model):
    """A call waiting for one participant's answer in one room, e.g. "Which city?"."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="pending_actions")
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="pending_actions"
    )
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="pending")
    arguments = models.JSONField(default=dict, blank=True)
    missing_argument = models.CharField(max_length=60)
    source = models.CharField(max_length=60)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "participant"], name="one_pending_action_per_participant_and_room"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action.name} waits for {self.missing_argument}"
