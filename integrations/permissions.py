from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from integrations.models import ApiToken


class ApiAccess(BasePermission):
    """A token (writes only with the write scope), or a staff account's session or password."""

    message = "Staff or an API token is needed."
    code = "permission_denied"

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if isinstance(token, ApiToken):
            if request.method in SAFE_METHODS or token.can_write:
                return True
            self.message, self.code = "This token is read-only.", "read_only_token"
            return False
        return bool(request.user and request.user.is_staff)
