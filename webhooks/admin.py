from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from botsite.admin import BatchedDeleteMixin
from webhooks import services
from webhooks.exceptions import WebhookUrlRefused
from webhooks.models import WebhookEndpoint


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=1000, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "bot", "description", "owner_email"]

    def clean_url(self) -> str:
        try:
            return services.webhook_url_check(self.cleaned_data["url"])
        except WebhookUrlRefused as error:
            raise forms.ValidationError(error.detail) from error


def _secret_show(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> None:
    messages.warning(
        request,
        f"Signing secret of {endpoint.url}: {secret} — copy it now, it is not shown again.",
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "url",
        "bot",
        "is_enabled",
        "disabled_reason",
        "failure_streak",
        "last_success_at",
        "created_at",
    ]
    list_filter = ["is_enabled", "disabled_reason", "bot"]
    list_select_related = ["bot"]
    search_fields = ["url", "description", "owner_email"]
    autocomplete_fields = ["bot"]
    readonly_fields = WebhookEndpoint.RUNTIME_FIELDS
    actions = ["secret_rotate", "endpoints_enable", "endpoints_disable"]

    def save_model(self, request, endpoint, form, change):  # type: ignore[no-untyped-def]
        if change:
            super().save_model(request, endpoint, form, change)
            return
        created, secret = services.webhook_endpoint_create(
            url=endpoint.url,
            owner_email=endpoint.owner_email,
            bot=endpoint.bot,
            description=endpoint.description,
        )
        endpoint.pk = created.pk
        _secret_show(request, created, secret)

    @admin.action(description="Rotate the signing secret (shown once)")
    def secret_rotate(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            secret = services.webhook_endpoint_secret_rotate(endpoint=endpoint)
            _secret_show(request, endpoint, secret)

    @admin.action(description="Enable again (clears the failure record)")
    def endpoints_enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.webhook_endpoint_enable(endpoint=endpoint)
        self.message_user(request, f"{queryset.count()} endpoint(s) enabled.")

    @admin.action(description="Disable")
    def endpoints_disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        disabled = sum(
            services.webhook_endpoint_disable(
                endpoint_id=endpoint.pk,
                reason=WebhookEndpoint.DisabledReason.STAFF,
                notify=False,
            )
            for endpoint in queryset
        )
        self.message_user(request, f"{disabled} endpoint(s) disabled.")
