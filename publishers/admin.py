from django.contrib import admin
from django.db import models

from publishers.models import Delivery, Post, Publisher, Subscription
from publishers.registry import publisher_types

# Scheme-less URLs typed by staff mean https (Django 6's default, chosen now).
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Publisher)
class PublisherAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "bot",
        "kind_label",
        "interval_seconds",
        "is_enabled",
        "status",
        "last_run_at",
    ]
    list_filter = ["status", "is_enabled", "kind", "bot"]
    list_select_related = ["bot"]
    search_fields = ["name", "slug", "bot__slug"]
    autocomplete_fields = ["bot"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["status", "last_run_at", "last_error", "created_at", "updated_at"]

    @admin.display(description="type", ordering="kind")
    def kind_label(self, publisher: Publisher) -> str:
        return publisher_types.label_for(publisher.kind)


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["title", "publisher", "published_at", "created_at"]
    list_filter = ["publisher"]
    list_select_related = ["publisher"]
    search_fields = ["title", "body", "source_id"]
    autocomplete_fields = ["publisher"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["publisher", "destination", "target", "tag", "is_active", "created_at"]
    list_filter = ["destination", "is_active", "publisher"]
    list_select_related = ["publisher", "room__bot"]
    search_fields = ["email", "webhook_url", "publisher__name", "tag"]
    autocomplete_fields = ["publisher", "participant", "room"]
    readonly_fields = ["created_at"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["post", "subscription", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["status", "subscription__destination", "post__publisher"]
    list_select_related = ["post", "subscription__publisher", "subscription__room__bot"]
    search_fields = ["post__title", "last_error"]
    readonly_fields = [
        "post",
        "subscription",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False  # deliveries come from fan-out, one per post and subscription
