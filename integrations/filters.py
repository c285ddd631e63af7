from typing import Any

import django_filters
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend, FilterSet

from conversations.models import Bot, Message


class IdFilterSet(FilterSet):
    """Related objects are filtered by id (by slug for bots) without looking them up, so a
    filter never tells whether another tenant's object exists."""

    @classmethod
    def filter_for_field(cls, field: Any, field_name: str, lookup_expr: str = "exact") -> Any:
        if isinstance(field, models.ForeignKey):
            if field.related_model is Bot:
                return django_filters.CharFilter(field_name=f"{field_name}__slug")
            return django_filters.NumberFilter(field_name=field_name, lookup_expr=lookup_expr)
        return super().filter_for_field(field, field_name, lookup_expr)


class TenantFilterBackend(DjangoFilterBackend):
    filterset_base = IdFilterSet


class MessageFilterSet(IdFilterSet):
    bot = django_filters.CharFilter(field_name="room__bot__slug")
    after_id = django_filters.NumberFilter(field_name="id", lookup_expr="gt")
    after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Message
        fields = ["room", "participant", "sender_kind", "reply_to"]
