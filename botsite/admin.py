"""What every model admin of ours shares: deletes that scale with the rows they take."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst

from botsite.db import deletion_summary, instance_delete, queryset_delete

#: Rows named one by one on a delete confirmation page; the rest are counted.
DELETE_CONFIRMATION_SHOWN = 100


class BatchedDeleteMixin:
    """Deletes in batches (`botsite.db`), on the delete page and in the "Delete selected"
    action, and a confirmation that counts what goes, per model, instead of listing every
    row of a bot's history (Django's collects them all in memory, then renders each)."""

    model: type[Model]
    admin_site: admin.AdminSite

    def get_deleted_objects(
        self, objs: QuerySet[Any] | list[Model], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        if isinstance(objs, QuerySet):
            rows = objs
        else:
            rows = self.model._default_manager.filter(pk__in=[obj.pk for obj in objs])
        summary = deletion_summary(rows)
        model_count = {str(model._meta.verbose_name_plural): n for model, n in summary.items()}
        perms_needed = {
            str(model._meta.verbose_name)
            for model in summary
            if model in self.admin_site._registry
            and not self.admin_site._registry[model].has_delete_permission(request)
        }
        shown: list[Any] = [self._deleted_object(obj) for obj in rows[:DELETE_CONFIRMATION_SHOWN]]
        more = summary.get(self.model, 0) - len(shown)
        if more > 0:
            shown.append(f"and {more} more {self.model._meta.verbose_name_plural}")
        # Nothing of ours protects rows from deletion (no PROTECT or RESTRICT foreign key).
        return shown, model_count, perms_needed, []

    def _deleted_object(self, obj: Model) -> SafeString:
        opts = obj._meta
        label = capfirst(str(opts.verbose_name))
        try:
            url = reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                args=[quote(obj.pk)],
            )
        except NoReverseMatch:
            return format_html("{}: {}", label, obj)
        return format_html('{}: <a href="{}">{}</a>', label, url, obj)

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        instance_delete(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        queryset_delete(queryset)
