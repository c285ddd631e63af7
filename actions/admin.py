from typing import Any

from django.contrib import admin
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from actions import liveness
from actions.models import (
    Action,
    ActionRun,
    Command,
    Pattern,
    PendingAction,
    ResponseTemplate,
    WorkerHeartbeat,
)
from actions.registry import action_types
from actions.services import bot_defaults_install
from botsite.admin import BatchedDeleteMixin
from conversations.models import Bot, BotMiddleware


# The bot's own page is here, beside its repertoire, rather than in `conversations`: a bot
# made in the admin gets its default action and command (`bot_defaults_install`), which
# are this app's rows.
class BotMiddlewareInline(admin.TabularInline):
    model = BotMiddleware
    extra = 0
    fields = ["position", "kind", "config", "is_enabled"]
    ordering = ["position", "id"]


@admin.register(Bot)
class BotAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "command_prefix", "default_mood", "is_enabled", "room_count"]
    list_filter = ["is_enabled", "default_mood"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    inlines = [BotMiddlewareInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_enabled"]}),
        (
            "How it is addressed",
            {"fields": ["command_prefix", "names", "default_mood", "fallback_text"]},
        ),
        ("Replies", {"fields": ["batch_window_ms", "pending_timeout_seconds"]}),
        ("Web chat", {"fields": ["allowed_origins"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Bot]:
        return super().get_queryset(request).annotate(room_total=Count("rooms", distinct=True))

    @admin.display(description="rooms", ordering="room_total")
    def room_count(self, bot: Bot) -> int:
        return bot.room_total  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change:  # after the inlines, so a stage staff added with the bot is kept
            bot_defaults_install(bot=form.instance)


class SameBotInlineFormSet(BaseInlineFormSet):
    """Rows under an action belong to the action's bot, set before they are validated."""

    def _construct_form(self, i: int, **kwargs: Any) -> Any:
        form = super()._construct_form(i, **kwargs)
        if self.instance.bot_id:
            form.instance.bot_id = self.instance.bot_id
        return form


class CommandInline(admin.TabularInline):
    model = Command
    formset = SameBotInlineFormSet
    extra = 0
    fields = ["word", "arguments"]


class PatternInline(admin.TabularInline):
    model = Pattern
    formset = SameBotInlineFormSet
    extra = 0
    fields = ["regex", "arguments", "priority", "is_enabled"]


@admin.register(Action)
class ActionAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["name", "bot", "kind_label", "min_trust", "is_enabled", "commands_list"]
    list_filter = ["is_enabled", "kind", "min_trust", "bot"]
    list_select_related = ["bot"]
    search_fields = ["name", "description", "bot__slug", "commands__word"]
    autocomplete_fields = ["bot"]
    readonly_fields = ["type_help", "created_at", "updated_at"]
    fields = [
        "bot",
        "name",
        "kind",
        "type_help",
        "config",
        "min_trust",
        "description",
        "prompts",
        "is_enabled",
        "created_at",
        "updated_at",
    ]
    inlines = [CommandInline, PatternInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Action]:
        return super().get_queryset(request).prefetch_related("commands")

    @admin.display(description="type", ordering="kind")
    def kind_label(self, action: Action) -> str:
        return action_types.label_for(action.kind)

    @admin.display(description="commands")
    def commands_list(self, action: Action) -> str:
        return ", ".join(command.word for command in action.commands.all())

    @admin.display(description="about this type")
    def type_help(self, action: Action) -> str:
        if not action.kind:
            return "Choose a type and save to see its arguments and an example configuration."
        if action.kind not in action_types:
            return f"unavailable: no action type {action.kind!r} is installed"
        plugin = action_types.get(action.kind)
        fields = ", ".join(plugin.Args.__dataclass_fields__) or "none"
        return (
            f"{plugin.description()} Arguments: {fields}. "
            f"Example configuration: {plugin.example_config or '{}'}"
        )


@admin.register(Command)
class CommandAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["__str__", "bot", "action"]
    list_filter = ["bot"]
    list_select_related = ["bot", "action"]
    search_fields = ["word", "action__name"]
    autocomplete_fields = ["bot", "action"]


@admin.register(Pattern)
class PatternAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["__str__", "bot", "action", "priority", "is_enabled"]
    list_filter = ["is_enabled", "bot"]
    list_select_related = ["bot", "action"]
    search_fields = ["regex", "action__name"]
    autocomplete_fields = ["bot", "action"]


@admin.register(ResponseTemplate)
class ResponseTemplateAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["key", "mood", "bot", "short_text"]
    list_filter = ["bot", "mood"]
    list_select_related = ["bot"]
    search_fields = ["key", "text"]
    autocomplete_fields = ["bot"]

    @admin.display(description="text")
    def short_text(self, template: ResponseTemplate) -> str:
        return template.text[:80]


@admin.register(ActionRun)
class ActionRunAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "action_name",
        "bot",
        "room",
        "status",
        "attempts",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "bot"]
    list_select_related = ["bot", "room__bot"]
    search_fields = ["action_name", "last_error", "=claimed_by_task", "=claimed_by_process"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in ActionRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are caused by messages, not typed in


@admin.register(PendingAction)
class PendingActionAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["action", "missing_argument", "participant", "room", "created_at", "expires_at"]
    list_filter = ["action__bot"]
    list_select_related = ["action__bot", "participant", "room__bot"]
    search_fields = ["action__name", "participant__display_name"]
    readonly_fields = [field.name for field in PendingAction._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # questions are asked by the bot


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    """Which worker pool processes are alive, for staff looking into runs left behind."""

    list_display = ["process", "beat_at", "is_beating"]
    ordering = ["-beat_at"]
    readonly_fields = ["process", "beat_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkerHeartbeat]:
        # Judged by the database's clock, as the sweeper judges it.
        return (
            super()
            .get_queryset(request)
            .annotate(
                is_beating=ExpressionWrapper(
                    Q(beat_at__gte=liveness.silent_since()), output_field=BooleanField()
                )
            )
        )

    @admin.display(boolean=True, description="Beating", ordering="is_beating")
    def is_beating(self, heartbeat: WorkerHeartbeat) -> bool:
        return heartbeat.is_beating

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the worker processes themselves
