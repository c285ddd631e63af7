from typing import Any

import django_filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend, FilterSet

from conversations.models import Bot, Message


class IdFilter(django_filters.NumberFilter):
    """A row id: a positive 64-bit integer, else a 400 (never an overflow in the database)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class IdFilterSet(FilterSet):
    """Related objects are filtered by id (by slug for bots) without looking them up, so a
    filter never tells whether another tenant's object exists."""

    @classmethod
    def filter_for_field(cls, field: Any, field_name: str, lookup_expr: str = "exact") -> Any:
        if isinstance(field, models.ForeignKey):
            if field.related_model is Bot:
                return django_filters.CharFilter(field_name=f"{field_name}__slug")
            return IdFilter(field_name=field_name, lookup_expr=lookup_expr)
        if isinstance(field, models.IntegerField):
            return IdFilter(field_name=field_name, lookup_expr=lookup_expr, min_value=-(2**63))
        return super().filter_for_field(field, field_name, lookup_expr)


class TenantFilterBackend(DjangoFilterBackend):
    filterset_base = IdFilterSet


class MessageFilterSet(IdFilterSet):
    bot = django_filters.CharFilter(field_name="room__bot__slug")
    after_id = IdFilter(field_name="id", lookup_expr="gt", min_value=0)
    after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Message
        fields = ["room", "participant", "sender_kind", "reply_to"]
