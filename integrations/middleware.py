from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from integrations.audit import AuditActor, audit_context


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
        with audit_context(AuditActor(source="admin", user=request.user)):
            return self.get_response(request)
