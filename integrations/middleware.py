from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve, reverse

from integrations.audit import AuditActor, audit_context, audit_rows_watch

#: Rows an admin action may change in bulk and still be compared one by one.
ACTION_ROWS_WATCHED = 1000


class AdminAuditMiddleware:
    """Records every change staff make in the admin in the audit log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.admin_prefix = reverse("admin:index")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method in ("GET", "HEAD", "OPTIONS")
            or not request.path.startswith(self.admin_prefix)
            or not request.user.is_staff
        ):
            return self.get_response(request)
        actor = AuditActor(source="admin", user=request.user)
        with ExitStack() as stack:
            stack.enter_context(audit_context(actor))
            selected = _action_rows(request)
            if selected is not None:
                stack.enter_context(audit_rows_watch(actor, selected))
            return self.get_response(request)


def _action_rows(request: HttpRequest) -> Any:
    """The rows an admin action was asked to run on, if this request runs one."""
    if not request.POST.get("action") or not request.POST.getlist("_selected_action"):
        return None
    try:
        url_name = resolve(request.path_info).url_name
    except Resolver404:
        return None
    for model in admin.site._registry:
        if url_name == f"{model._meta.app_label}_{model._meta.model_name}_changelist":
            ids = request.POST.getlist("_selected_action")[:ACTION_ROWS_WATCHED]
            try:
                return model._default_manager.filter(
                    pk__in=[model._meta.pk.to_python(i) for i in ids]
                )
            except ValidationError:  # a forged id: the admin refuses the request itself
                return None
    return None
