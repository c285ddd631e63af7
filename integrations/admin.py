from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from botsite.admin import BatchedDeleteMixin
from integrations.events import event_deliveries_retry, event_hook_create
from integrations.models import ApiToken, AuditEntry, EventDelivery, EventHook
from integrations.services import api_token_revoke


@admin.register(ApiToken)
class ApiTokenAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "user",
        "scope",
        "bot_list",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["scope", "revoked_at", "may_create_tokens"]
    list_select_related = ["user"]
    search_fields = ["name", "key_id", "user__username", "bots__slug"]
    autocomplete_fields = ["user", "bots"]
    readonly_fields = ["prefix", "revoked_at", "last_used_at", "created_at"]
    fields = [
        "name",
        "user",
        "bots",
        "scope",
        "may_create_tokens",
        "expires_at",
        "prefix",
        "revoked_at",
        "last_used_at",
        "created_at",
    ]
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        return super().get_queryset(request).prefetch_related("bots")

    @admin.display(description="bots")
    def bot_list(self, token: ApiToken) -> str:
        return ", ".join(bot.slug for bot in token.bots.all())

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if not change:
            # Kept on the request only, to show once on the next page; never stored.
            request._api_token_secret = obj.secret_set()  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "token": obj,
            "secret": request._api_token_secret,  # type: ignore[attr-defined]
            "title": "Copy the new API token",
        }
        return TemplateResponse(request, "integrations/token_created.html", context)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor", "source", "action", "model", "object_repr"]
    list_filter = ["source", "action", "model"]
    search_fields = ["actor", "object_repr", "object_id"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventDeliveryInline(admin.TabularInline):
    model = EventDelivery
    extra = 0
    fields = [
        "id",
        "event_type",
        "object_key",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    readonly_fields = fields
    ordering = ["-id"]
    max_num = 0  # events are written by the scan, not typed in


@admin.register(EventHook)
class EventHookAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["__str__", "endpoint", "room", "is_enabled", "created_at"]
    list_filter = ["is_enabled", "endpoint__bot"]
    list_select_related = ["endpoint", "room__bot"]
    search_fields = ["endpoint__url", "room__external_id"]
    autocomplete_fields = ["endpoint", "room"]
    readonly_fields = ["last_message_id", "last_publisher_run_id", "created_at"]
    inlines = [EventDeliveryInline]

    def save_model(self, request: HttpRequest, obj: EventHook, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = event_hook_create(endpoint=obj.endpoint, events=obj.events, room=obj.room)
        obj.pk = created.pk


@admin.register(EventDelivery)
class EventDeliveryAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["id", "event_type", "hook", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "event_type", "hook__endpoint__bot"]
    list_select_related = ["hook__endpoint"]
    search_fields = ["object_key", "last_error"]
    readonly_fields = [field.name for field in EventDelivery._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send again (dead ones)")
    def retry(self, request: HttpRequest, queryset: QuerySet[EventDelivery]) -> None:
        count = event_deliveries_retry(deliveries=queryset)
        self.message_user(request, f"{count} event(s) will be sent again.", messages.SUCCESS)
