from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.forms.models import construct_instance
from django.http import HttpRequest
from django.utils.formats import localize
from django.utils.timezone import template_localtime

from botsite.admin import BatchedDeleteMixin
from publishers import deliveries, services
from publishers.exceptions import PublishingError, SubscriptionInvalid
from publishers.models import Delivery, Post, Publisher, PublisherRun, Subscription
from publishers.registry import publisher_types

# Scheme-less URLs typed by staff mean https (Django 6's default, chosen now).
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}
RUN_FIELDS = ["started_at", "finished_at", "items_seen", "posts_new", "posts_history", "error"]


class PublisherRunInline(admin.TabularInline):
    model = PublisherRun
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-started_at"]
    fields = readonly_fields = RUN_FIELDS

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        recent = PublisherRun.objects.order_by("-started_at").values("pk")
        return super().get_queryset(request).filter(pk__in=recent[:1000])


@admin.register(Publisher)
class PublisherAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "bot",
        "kind_label",
        "schedule",
        "is_enabled",
        "status",
        "last_run_at",
        "last_error_short",
    ]
    list_filter = ["status", "is_enabled", "kind", "bot"]
    list_select_related = ["bot"]
    search_fields = ["name", "slug", "bot__slug"]
    autocomplete_fields = ["bot"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = [
        "next_run_sends",
        "status",
        "last_run_at",
        "last_error",
        "created_at",
        "updated_at",
    ]
    inlines = [PublisherRunInline]
    actions = ["publish_now", "publishers_resume", "publishers_pause"]

    @admin.display(description="type", ordering="kind")
    def kind_label(self, publisher: Publisher) -> str:
        return publisher_types.label_for(publisher.kind)

    @admin.display(description="schedule")
    def schedule(self, publisher: Publisher) -> str:
        if publisher.interval_seconds:
            return f"every {publisher.interval_seconds} s"
        if publisher.crontab:
            return f"{publisher.crontab} ({publisher.timezone})"
        return "on demand"

    @admin.display(description="last error")
    def last_error_short(self, publisher: Publisher) -> str:
        return publisher.last_error[:80]

    @admin.display(description="the next run sends")
    def next_run_sends(self, publisher: Publisher) -> str:
        return services.publisher_next_run_sends(publisher=publisher)

    def save_model(self, request, publisher, form, change):  # type: ignore[no-untyped-def]
        services.publisher_save(publisher=publisher)

    def delete_model(self, request, publisher):  # type: ignore[no-untyped-def]
        services.publishers_delete(publishers=Publisher.objects.filter(pk=publisher.pk))

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        services.publishers_delete(publishers=queryset)

    @admin.action(description="Publish now")
    def publish_now(self, request: HttpRequest, queryset: QuerySet[Publisher]) -> None:
        for publisher in queryset:
            try:
                services.publisher_run_now(publisher=publisher)
            except PublishingError as error:
                self.message_user(request, f"{publisher}: {error.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{publisher}: fetching now.")

    @admin.action(description="Resume (enable)")
    def publishers_resume(self, request: HttpRequest, queryset: QuerySet[Publisher]) -> None:
        changed = services.publishers_enable(publishers=queryset, is_enabled=True)
        self.message_user(request, f"{changed} publisher(s) resumed.")

    @admin.action(description="Pause (disable)")
    def publishers_pause(self, request: HttpRequest, queryset: QuerySet[Publisher]) -> None:
        changed = services.publishers_enable(publishers=queryset, is_enabled=False)
        self.message_user(request, f"{changed} publisher(s) paused.")


@admin.register(PublisherRun)
class PublisherRunAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = ["publisher", *RUN_FIELDS]
    list_filter = ["publisher"]
    list_select_related = ["publisher"]
    search_fields = ["error", "publisher__name"]
    readonly_fields = ["publisher", *RUN_FIELDS]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False  # runs are records of what happened


class PostForm(forms.ModelForm):
    link = forms.URLField(max_length=1000, required=False, assume_scheme="https")

    class Meta:
        model = Post
        fields = ["publisher", "title", "body", "link", "tags", "published_at"]


def _time_shown(when: object) -> str:
    return str(localize(template_localtime(when)))


@admin.register(Post)
class PostAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    form = PostForm
    formfield_overrides = HTTPS_URLS
    list_display = ["title", "publisher", "published_at", "sending", "created_at"]
    list_filter = ["publisher"]
    list_select_related = ["publisher"]
    search_fields = ["title", "body", "source_id"]
    autocomplete_fields = ["publisher"]
    date_hierarchy = "created_at"
    readonly_fields = ["source_id", "created_at"]

    @admin.display(description="sending")
    def sending(self, post: Post) -> str:
        if deliveries.post_is_scheduled(post):
            return f"scheduled for {_time_shown(post.published_at)}"
        return "at once"

    def save_model(self, request, post, form, change):  # type: ignore[no-untyped-def]
        if change:  # an edit changes the stored post, not what was already delivered
            super().save_model(request, post, form, change)
            return
        created = services.post_create(
            publisher=post.publisher,
            title=post.title,
            body=post.body,
            link=post.link,
            tags=post.tags,
            published_at=post.published_at,
        )
        post.pk = created.pk
        if deliveries.post_is_scheduled(created):
            when = _time_shown(created.published_at)
            messages.info(request, f"“{created}” is scheduled: subscribers get it at {when}.")


class SubscriptionForm(forms.ModelForm):
    webhook_url = forms.URLField(
        max_length=1000,
        required=False,
        assume_scheme="https",
        help_text="For a webhook: an existing endpoint above, or a URL to make a new one.",
    )

    class Meta:
        model = Subscription
        fields = [
            "publisher",
            "destination",
            "room",
            "email",
            "endpoint",
            "webhook_url",
            "tag",
            "is_active",
        ]


@admin.register(Subscription)
class SubscriptionAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["publisher", "destination", "target", "tag", "is_active", "created_at"]
    list_filter = ["destination", "is_active", "publisher"]
    list_select_related = ["publisher", "room__bot", "endpoint"]
    search_fields = ["email", "endpoint__url", "publisher__name", "tag"]
    autocomplete_fields = ["publisher", "participant", "room", "endpoint"]
    readonly_fields = ["created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):  # type: ignore[no-untyped-def]
        form_class = super().get_form(request, obj, change, **kwargs)

        class Checked(form_class):  # type: ignore[misc,valid-type]
            """Checks with the service the API uses, so both refuse the same things."""

            def _post_clean(self) -> None:
                if change:
                    super()._post_clean()
                    return
                # The service validates the whole subscription (and may make its endpoint);
                # the model's own check would ask for an endpoint given by URL.
                self.instance = construct_instance(self, self.instance, self._meta.fields)
                if self.errors:
                    return
                data = self.cleaned_data
                try:
                    services.subscription_check(**_subscription_values(data))
                except SubscriptionInvalid as error:
                    for field, problems in (error.fields or {"__all__": [error.detail]}).items():
                        name = field if field in self.fields else None
                        for problem in problems:
                            self.add_error(name, problem)

        return Checked

    def save_model(self, request, subscription, form, change):  # type: ignore[no-untyped-def]
        if change:
            super().save_model(request, subscription, form, change)
            return
        created, secret = services.subscription_create(**_subscription_values(form.cleaned_data))
        subscription.pk = created.pk
        if secret:
            messages.warning(
                request,
                f"Signing secret of {created.endpoint}: {secret} — copy it now, "
                "it is not shown again.",
            )


def _subscription_values(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "publisher": data["publisher"],
        "destination": data["destination"],
        "room": data.get("room"),
        "email": data.get("email") or "",
        "endpoint": data.get("endpoint"),
        "webhook_url": data.get("webhook_url") or "",
        "tag": data.get("tag") or "",
    }


@admin.register(Delivery)
class DeliveryAdmin(BatchedDeleteMixin, admin.ModelAdmin):
    list_display = [
        "post",
        "subscription",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error_short",
    ]
    list_filter = ["status", "subscription__destination", "post__publisher"]
    list_select_related = [
        "post",
        "subscription__publisher",
        "subscription__room__bot",
        "subscription__endpoint",
    ]
    search_fields = ["post__title", "last_error"]
    readonly_fields = [
        "post",
        "subscription",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "last_error",
        "sent_at",
        "created_at",
    ]
    actions = ["deliveries_retry"]

    @admin.display(description="last error")
    def last_error_short(self, delivery: Delivery) -> str:
        return delivery.last_error[:80]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False  # deliveries come from fan-out, one per post and subscription

    @admin.action(description="Retry failed deliveries")
    def deliveries_retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = deliveries.deliveries_retry(deliveries=queryset)
        self.message_user(request, f"{count} failed or dead deliveries will be sent again.")
