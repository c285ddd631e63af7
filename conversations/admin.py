from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from botsite.admin import BatchedDeleteMixin
from conversations.connectors.registry import connector_types
from conversations.middleware.registry import middleware_types
from conversations.models import (
    BotMiddleware,
    Connector,
    MemoryEntry,
    Message,
    Participant,
    Room,
)
from conversations.services import memory_entries_changed
from conversations.services.connectors import connector_probe, connector_secret_set

TRACE_ORDER = {
    name: rank
    for rank, name in enumerate(
        ["parser", "kind", "action", "word", "pattern", "groups", "arguments", "where"]
    )
}


@admin.register(BotMiddleware)
class BotMiddlewareAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["bot", "position", "kind_label", "is_enabled"]
    list_filter = ["is_enabled", "kind", "bot"]
    list_select_related = ["bot"]
    search_fields = ["bot__slug", "kind"]

    @admin.display(description="type", ordering="kind")
    def kind_label(self, row: BotMiddleware) -> str:
        return middleware_types.label_for(row.kind)


class ConnectorForm(forms.ModelForm):
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="The network's password: IRC's SASL, NickServ or server password, "
        "Twitch's OAuth token, the Matrix or XMPP account's password. Stored sealed and "
        "never shown again; leave empty to keep the one stored.",
    )
    password_clear = forms.BooleanField(
        required=False, label="Remove the stored password", help_text="Connect without one."
    )

    class Meta:
        model = Connector
        fields = ["bot", "kind", "name", "config", "is_enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:  # only the networks the bridge holds
            self.fields["kind"].choices = [
                (key, label)
                for key, label in connector_types.choices()
                if connector_types.get(key).is_bridged
            ]


#: Each test holds the request for up to `PROBE_SECONDS`.
PROBES_AT_ONCE = 5

#: What the bridge holding a connector reports, as the admin shows it (read-only).
REPORTED = [
    "status_shown",
    "status_detail",
    "joined_shown",
    "lag_ms",
    "last_in_at",
    "last_out_at",
    "lease_holder",
    "lease_until",
]


@admin.register(Connector)
class ConnectorAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    """A bot's accounts on networks held by the bridge; the state is what it last said."""

    form = ConnectorForm
    list_display = ["name", "bot", "kind", "status_shown", "joined_shown", "lag_ms", "last_in_at"]
    list_filter = ["kind", "status", "is_enabled", "bot"]
    list_select_related = ["bot"]
    search_fields = ["name", "bot__slug"]
    readonly_fields = [*REPORTED, "has_password"]
    actions = ["connection_test"]
    fieldsets = [
        (None, {"fields": ["bot", "kind", "name", "config", "is_enabled"]}),
        ("Password", {"fields": ["has_password", "password", "password_clear"]}),
        (
            "State, as the bridge holding it last reported",
            {"fields": REPORTED},
        ),
    ]

    @admin.display(description="status", ordering="status")
    def status_shown(self, connector: Connector) -> str:
        if not connector.is_enabled:
            return "Switched off"
        if connector.lease_until is None or connector.lease_until < timezone.now():
            return "No bridge holds it (is the bridge running?)"
        return connector.get_status_display()

    @admin.display(description="joined")
    def joined_shown(self, connector: Connector) -> str:
        return ", ".join(connector.joined) or "-"

    @admin.display(description="password stored", boolean=True)
    def has_password(self, connector: Connector) -> bool:
        return bool(connector.secret_sealed)

    @admin.action(description="Test connection (settings and password, saved ones)")
    def connection_test(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        connectors = list(queryset.select_related("bot")[: PROBES_AT_ONCE + 1])
        if len(connectors) > PROBES_AT_ONCE:
            self.message_user(
                request,
                f"Test at most {PROBES_AT_ONCE} connectors at once (each may take a few seconds).",
                messages.ERROR,
            )
            return
        for connector in connectors:
            result = connector_probe(connector)
            level = messages.SUCCESS if result.is_connected else messages.ERROR
            self.message_user(request, f"{connector}: {result.detail}", level)

    def save_model(self, request: HttpRequest, connector: Any, form: Any, change: bool) -> None:
        super().save_model(request, connector, form, change)
        if form.cleaned_data.get("password_clear"):
            connector_secret_set(connector=connector, secret="")
        elif form.cleaned_data.get("password"):
            connector_secret_set(connector=connector, secret=form.cleaned_data["password"])


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["created_at", "sender_kind", "participant", "text"]
    readonly_fields = fields
    ordering = ["-id"]
    show_change_link = True
    max_num = 0  # history is written by conversations, not typed in here

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("participant")


@admin.register(Room)
class RoomAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["__str__", "bot", "connector_label", "is_direct", "mood", "created_at"]
    list_filter = ["connector", "is_direct", "bot"]
    list_select_related = ["bot"]
    search_fields = ["title", "external_id", "bot__slug"]
    autocomplete_fields = ["bot"]
    readonly_fields = ["created_at"]
    inlines = [MessageInline]

    @admin.display(description="connector", ordering="connector")
    def connector_label(self, room: Room) -> str:
        return connector_types.label_for(room.connector)


@admin.register(Participant)
class ParticipantAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "bot",
        "connector",
        "trust_level",
        "is_ignored",
        "last_seen_at",
    ]
    list_filter = ["trust_level", "is_ignored", "connector", "bot"]
    list_select_related = ["bot"]
    list_editable = ["trust_level", "is_ignored"]
    search_fields = ["display_name", "external_id", "user__username"]
    autocomplete_fields = ["bot", "user"]
    readonly_fields = ["created_at", "last_seen_at"]


@admin.register(Message)
class MessageAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "room", "sender_kind", "participant", "short_text"]
    list_filter = ["sender_kind", "room__bot", "room__connector"]
    list_select_related = ["room__bot", "participant"]
    search_fields = ["text", "participant__display_name"]
    date_hierarchy = "created_at"
    autocomplete_fields = ["room", "participant", "reply_to"]
    readonly_fields = ["created_at", "client_id", "understood"]
    exclude = ["trace"]

    @admin.display(description="how it was understood")
    def understood(self, message: Message) -> str:
        if not message.trace:
            return "—"
        steps = [
            format_html(
                "<li><strong>{}</strong> {}</li>",
                step.get("stage", "?"),
                ", ".join(
                    f"{key}={step[key]}"
                    # PostgreSQL's jsonb does not keep key order: show them in reading order.
                    for key in sorted(step, key=lambda k: (TRACE_ORDER.get(k, 99), k))
                    if key != "stage"
                ),
            )
            for step in message.trace
        ]
        return format_html("<ol>{}</ol>", format_html_join("", "{}", ((s,) for s in steps)))

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        return message.text if len(message.text) <= 80 else message.text[:79] + "…"


@admin.register(MemoryEntry)
class MemoryEntryAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["key", "bot", "scope", "room", "participant", "created_at", "expires_at"]
    list_filter = ["bot", "key"]
    list_select_related = ["bot", "room", "participant"]
    search_fields = ["key"]
    autocomplete_fields = ["bot", "room", "participant"]
    readonly_fields = ["created_at"]

    def save_model(self, request: HttpRequest, obj: MemoryEntry, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        memory_entries_changed([obj])

    def delete_model(self, request: HttpRequest, obj: MemoryEntry) -> None:
        super().delete_model(request, obj)
        memory_entries_changed([obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MemoryEntry]) -> None:
        entries = list(queryset.only("bot", "room", "participant", "key"))
        super().delete_queryset(request, queryset)
        memory_entries_changed(entries)
